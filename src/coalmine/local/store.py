"""The local runtime's state in one SQLite file: objects, canary status, events, checks, ticks.

Everything `coalmine up` must remember across its own restart lives here; nothing
else is state. Writes are small and synchronous (SQLite in WAL mode answers in
microseconds), so the daemon calls the store directly from its event loop.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = [
    "CheckRecord",
    "EventRecord",
    "QuarantinedObject",
    "SampleRecord",
    "Store",
    "StoredObject",
    "TickRecord",
]

SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    manifest TEXT NOT NULL,
    status TEXT,
    owner TEXT,
    generation INTEGER NOT NULL,
    revision INTEGER NOT NULL,
    updated TEXT NOT NULL,
    PRIMARY KEY (kind, namespace, name)
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    reason TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_object ON events (namespace, name, id);
CREATE TABLE IF NOT EXISTS checks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    namespace TEXT NOT NULL,
    canary TEXT NOT NULL,
    revision TEXT NOT NULL,
    metric TEXT NOT NULL,
    value REAL,
    min REAL,
    max REAL,
    passed INTEGER NOT NULL,
    reason TEXT NOT NULL,
    query TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS checks_by_canary ON checks (namespace, canary, id);
CREATE TABLE IF NOT EXISTS ticks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    namespace TEXT NOT NULL,
    canary TEXT NOT NULL,
    phase TEXT NOT NULL,
    canary_weight INTEGER NOT NULL,
    failed_checks INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS ticks_by_canary ON ticks (namespace, canary, id);
CREATE TABLE IF NOT EXISTS samples (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    namespace TEXT NOT NULL,
    canary TEXT NOT NULL,
    revision TEXT NOT NULL,
    role TEXT NOT NULL,
    metric TEXT NOT NULL,
    value REAL,
    seconds REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS samples_by_canary ON samples (namespace, canary, id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS quarantine (
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    manifest TEXT NOT NULL,
    status TEXT,
    owner TEXT,
    reason TEXT NOT NULL,
    time TEXT NOT NULL,
    PRIMARY KEY (kind, namespace, name)
);
"""

PRIVATE_FILE = 0o600
"""The database and its WAL hold alert addresses and tokens: the owner's alone."""


@dataclass(frozen=True)
class StoredObject:
    kind: str
    namespace: str
    name: str
    manifest: dict[str, Any]
    status: dict[str, Any] | None
    owner: str | None
    """Who made it: None for the user, "Canary/<name>" for objects a canary generated."""
    generation: int
    """Bumped when the manifest changes (not when only the status does)."""
    revision: int
    """The store-wide change counter at the object's last write."""
    updated: datetime

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.namespace, self.name)


@dataclass(frozen=True)
class EventRecord:
    id: int
    time: datetime
    kind: str
    namespace: str
    name: str
    type: str
    reason: str
    message: str


@dataclass(frozen=True)
class CheckRecord:
    time: datetime
    namespace: str
    canary: str
    revision: str
    metric: str
    value: float | None
    min: float | None
    max: float | None
    passed: bool
    reason: str
    query: str


@dataclass(frozen=True)
class TickRecord:
    time: datetime
    phase: str
    canary_weight: int
    failed_checks: int
    revision: str = ""
    """The revision under analysis (`status.lastAppliedSpec`); "" in stores older than it."""


@dataclass(frozen=True)
class SampleRecord:
    """A built-in measured beside the checks: the primary's value of a checked metric (the
    baseline a chart draws), or the canary's request and error rates (requests served)."""

    time: datetime
    revision: str
    role: str
    """"primary" or "canary"."""
    metric: str
    value: float | None
    seconds: float
    """The window the value was measured over."""


class Store:
    """One SQLite database; safe to reopen after a crash (WAL, one transaction per call)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        path.touch(mode=PRIVATE_FILE)  # SQLite gives its WAL and shm the database's mode
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._add_column("ticks", "revision", "TEXT NOT NULL DEFAULT ''")
        self._make_private()
        self.rollbacks = 0
        """Transactions rolled back so far: their revisions are given out again, so what
        was read or written inside them is known by revision no more."""

    def _make_private(self) -> None:
        """Mode 0600 for the database, its WAL and shm, also when an older run made them 0644."""
        for suffix in ("", "-wal", "-shm"):
            part = self.path.with_name(self.path.name + suffix)
            if part.exists():
                part.chmod(PRIVATE_FILE)

    def close(self) -> None:
        self._db.close()

    def _add_column(self, table: str, column: str, definition: str) -> None:
        """Bring a store written by an older coalmine up to the current schema."""
        columns = {row["name"] for row in self._db.execute(f"PRAGMA table_info({table})")}
        if column not in columns:
            self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside happen, or none do."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            self.rollbacks += 1
            raise
        self._db.execute("COMMIT")

    # Objects -------------------------------------------------------------------------

    def put(
        self, kind: str, namespace: str, name: str, manifest: dict[str, Any], owner: str | None
    ) -> StoredObject:
        """Create or replace an object's manifest, keeping its status. The row written is
        compared as text with the one stored: nothing is parsed back."""
        text = json.dumps(manifest, sort_keys=True)
        current = self._db.execute(
            "SELECT manifest, status, generation FROM objects"
            " WHERE kind = ? AND namespace = ? AND name = ?",
            (kind, namespace, name),
        ).fetchone()
        changed = current is None or current["manifest"] != text
        generation = (current["generation"] if current else 0) + (1 if changed else 0)
        revision = self._next_revision()
        updated = _now()
        self._db.execute(
            "INSERT INTO objects (kind, namespace, name, manifest, status, owner, generation,"
            " revision, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (kind, namespace, name) DO UPDATE SET manifest = excluded.manifest,"
            " owner = excluded.owner, generation = excluded.generation,"
            " revision = excluded.revision, updated = excluded.updated",
            (kind, namespace, name, text, None, owner, generation, revision, updated),
        )
        status = current["status"] if current else None
        return StoredObject(
            kind=kind,
            namespace=namespace,
            name=name,
            manifest=manifest,
            status=json.loads(status) if status else None,
            owner=owner,
            generation=generation,
            revision=revision,
            updated=datetime.fromisoformat(updated),
        )

    def write_status(self, kind: str, namespace: str, name: str, status: dict[str, Any]) -> None:
        revision = self._next_revision()
        cursor = self._db.execute(
            "UPDATE objects SET status = ?, revision = ?, updated = ?"
            " WHERE kind = ? AND namespace = ? AND name = ?",
            (json.dumps(status, sort_keys=True), revision, _now(), kind, namespace, name),
        )
        if cursor.rowcount == 0:
            raise KeyError(f"{kind} {namespace}/{name}")

    def get(self, kind: str, namespace: str, name: str) -> StoredObject | None:
        row = self._db.execute(
            "SELECT * FROM objects WHERE kind = ? AND namespace = ? AND name = ?",
            (kind, namespace, name),
        ).fetchone()
        return _object(row) if row else None

    def objects(self, kind: str | None = None, namespace: str | None = None) -> list[StoredObject]:
        clauses, args = [], []
        if kind is not None:
            clauses.append("kind = ?")
            args.append(kind)
        if namespace is not None:
            clauses.append("namespace = ?")
            args.append(namespace)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._db.execute(
            f"SELECT * FROM objects{where} ORDER BY kind, namespace, name",  # noqa: S608
            args,
        )
        return [_object(row) for row in rows]

    def revisions(
        self, kinds: Iterable[str], *, namespace: str | None = None, name: str | None = None
    ) -> dict[tuple[str, str, str], tuple[int, str | None]]:
        """(revision, owner) of every object of `kinds` (in `namespace`, named `name` when
        given), by (kind, namespace, name): which rows changed since they were last read,
        without reading their manifests."""
        wanted = list(kinds)
        clauses = [f"kind IN ({', '.join('?' * len(wanted))})"]
        args: list[str] = wanted
        for column, value in (("namespace", namespace), ("name", name)):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        rows = self._db.execute(
            "SELECT kind, namespace, name, revision, owner FROM objects"  # noqa: S608
            f" WHERE {' AND '.join(clauses)}",
            args,
        )
        return {(r[0], r[1], r[2]): (r[3], r[4]) for r in rows}

    def delete(self, kind: str, namespace: str, name: str) -> bool:
        self._next_revision()
        cursor = self._db.execute(
            "DELETE FROM objects WHERE kind = ? AND namespace = ? AND name = ?",
            (kind, namespace, name),
        )
        return cursor.rowcount > 0

    # Quarantine: stored objects the runtime cannot serve -------------------------------

    def quarantine(self, kind: str, namespace: str, name: str, reason: str) -> None:
        """Move an object out of the served set, keeping it (and why) for get and doctor."""
        with self.transaction():
            stored = self.get(kind, namespace, name)
            if stored is None:
                return
            self._db.execute(
                "INSERT OR REPLACE INTO quarantine (kind, namespace, name, manifest, status,"
                " owner, reason, time) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    kind,
                    namespace,
                    name,
                    json.dumps(stored.manifest, sort_keys=True),
                    json.dumps(stored.status, sort_keys=True) if stored.status else None,
                    stored.owner,
                    reason,
                    _now(),
                ),
            )
            self.delete(kind, namespace, name)

    def quarantined(
        self, kind: str | None = None, namespace: str | None = None
    ) -> list[QuarantinedObject]:
        clauses, args = [], []
        for column, value in (("kind", kind), ("namespace", namespace)):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._db.execute(
            f"SELECT * FROM quarantine{where} ORDER BY kind, namespace, name",  # noqa: S608
            args,
        )
        return [_quarantined(row) for row in rows]

    def release(self, kind: str, namespace: str, name: str) -> bool:
        """Forget a quarantined object (the user applied a new one, or deleted it)."""
        cursor = self._db.execute(
            "DELETE FROM quarantine WHERE kind = ? AND namespace = ? AND name = ?",
            (kind, namespace, name),
        )
        return cursor.rowcount > 0

    def revision(self) -> int:
        """The store-wide change counter: it moves whenever any object changes."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'revision'").fetchone()
        return int(row["value"]) if row else 0

    def _next_revision(self) -> int:
        revision = self.revision() + 1
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES ('revision', ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(revision),),
        )
        return revision

    # Events, checks, ticks -----------------------------------------------------------

    def add_event(
        self, kind: str, namespace: str, name: str, type_: str, reason: str, message: str
    ) -> EventRecord:
        time = _now()
        cursor = self._db.execute(
            "INSERT INTO events (time, kind, namespace, name, type, reason, message)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (time, kind, namespace, name, type_, reason, message),
        )
        assert cursor.lastrowid is not None
        return EventRecord(
            cursor.lastrowid,
            datetime.fromisoformat(time),
            kind,
            namespace,
            name,
            type_,
            reason,
            message,
        )

    def events(
        self,
        namespace: str | None = None,
        name: str | None = None,
        *,
        after: int = 0,
        limit: int = 1000,
    ) -> list[EventRecord]:
        """Events after id `after`, oldest first, at most `limit` (the newest of them)."""
        clauses, args = ["id > ?"], [str(after)]
        if namespace is not None:
            clauses.append("namespace = ?")
            args.append(namespace)
        if name is not None:
            clauses.append("name = ?")
            args.append(name)
        rows = self._db.execute(
            f"SELECT * FROM events WHERE {' AND '.join(clauses)}"  # noqa: S608
            " ORDER BY id DESC LIMIT ?",
            [*args, str(limit)],
        ).fetchall()
        return [_event(row) for row in reversed(rows)]

    def add_checks(self, namespace: str, canary: str, revision: str, checks: Iterable[Any]) -> None:
        """Record what each check saw (engine CheckResult objects)."""
        time = _now()
        self._db.executemany(
            "INSERT INTO checks (time, namespace, canary, revision, metric, value, min, max,"
            " passed, reason, query) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    time,
                    namespace,
                    canary,
                    revision,
                    c.metric,
                    c.value,
                    c.range.min,
                    c.range.max,
                    int(c.passed),
                    c.reason,
                    c.query,
                )
                for c in checks
            ],
        )

    def checks(self, namespace: str, canary: str, *, limit: int = 1000) -> list[CheckRecord]:
        rows = self._db.execute(
            "SELECT * FROM checks WHERE namespace = ? AND canary = ? ORDER BY id DESC LIMIT ?",
            (namespace, canary, limit),
        ).fetchall()
        return [_check(row) for row in reversed(rows)]

    def add_tick(
        self,
        namespace: str,
        canary: str,
        phase: str,
        canary_weight: int,
        failed_checks: int,
        revision: str = "",
    ) -> None:
        self._db.execute(
            "INSERT INTO ticks (time, namespace, canary, phase, canary_weight, failed_checks,"
            " revision) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (_now(), namespace, canary, phase, canary_weight, failed_checks, revision),
        )

    def weights(self, namespace: str, canary: str, *, limit: int) -> list[tuple[str, int]]:
        """(ISO time, canary weight) of the newest ticks, oldest first: a sparkline's data,
        without building a record per row."""
        rows = self._db.execute(
            "SELECT time, canary_weight FROM ticks WHERE namespace = ? AND canary = ?"
            " ORDER BY id DESC LIMIT ?",
            (namespace, canary, limit),
        ).fetchall()
        return [(r[0], r[1]) for r in reversed(rows)]

    def add_samples(
        self,
        namespace: str,
        canary: str,
        revision: str,
        samples: Iterable[tuple[str, str, float | None, float]],
    ) -> None:
        """Record (role, metric, value, seconds) measured at one tick."""
        time = _now()
        self._db.executemany(
            "INSERT INTO samples (time, namespace, canary, revision, role, metric, value,"
            " seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(time, namespace, canary, revision, *sample) for sample in samples],
        )

    def samples(self, namespace: str, canary: str, *, limit: int = 10000) -> list[SampleRecord]:
        rows = self._latest("samples", namespace, canary, limit)
        return [
            SampleRecord(
                datetime.fromisoformat(r["time"]),
                r["revision"],
                r["role"],
                r["metric"],
                r["value"],
                r["seconds"],
            )
            for r in rows
        ]

    def ticks(self, namespace: str, canary: str, *, limit: int = 10000) -> list[TickRecord]:
        rows = self._latest("ticks", namespace, canary, limit)
        return [
            TickRecord(
                datetime.fromisoformat(r["time"]),
                r["phase"],
                r["canary_weight"],
                r["failed_checks"],
                r["revision"],
            )
            for r in rows
        ]

    def _latest(self, table: str, namespace: str, canary: str, limit: int) -> list[Any]:
        """The newest `limit` rows of one canary in `table` (ticks or samples), oldest first."""
        rows = self._db.execute(
            f"SELECT * FROM {table} WHERE namespace = ? AND canary = ? ORDER BY id DESC LIMIT ?",  # noqa: S608 (a fixed table name)
            (namespace, canary, limit),
        ).fetchall()
        return rows[::-1]

    def marks(self) -> tuple[int, ...]:
        """Moves whenever anything a view shows changes: objects, events, ticks, samples.
        Cheap enough to poll several times a second (four index lookups)."""
        row = self._db.execute(
            "SELECT (SELECT max(id) FROM events), (SELECT max(id) FROM ticks),"
            " (SELECT max(id) FROM samples), (SELECT max(id) FROM checks)"
        ).fetchone()
        return (self.revision(), *(int(v or 0) for v in row))

    # Small values ---------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row["value"]) if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass(frozen=True)
class QuarantinedObject:
    """An object found unservable at start-up: kept out of Envoy and the canaries."""

    kind: str
    namespace: str
    name: str
    manifest: dict[str, Any]
    owner: str | None
    reason: str
    time: datetime

    @property
    def kind_key(self) -> tuple[str, str, str]:
        return (self.kind, self.namespace, self.name)

    @property
    def fix(self) -> str:
        return (
            f"correct {self.kind.lower()} {self.name} (namespace {self.namespace}) and apply it"
            " again (coalmine apply -f FILE), or remove it (coalmine delete -f FILE)"
        )


def _quarantined(row: sqlite3.Row) -> QuarantinedObject:
    return QuarantinedObject(
        kind=row["kind"],
        namespace=row["namespace"],
        name=row["name"],
        manifest=json.loads(row["manifest"]),
        owner=row["owner"],
        reason=row["reason"],
        time=datetime.fromisoformat(row["time"]),
    )


def _object(row: sqlite3.Row) -> StoredObject:
    return StoredObject(
        kind=row["kind"],
        namespace=row["namespace"],
        name=row["name"],
        manifest=json.loads(row["manifest"]),
        status=json.loads(row["status"]) if row["status"] else None,
        owner=row["owner"],
        generation=row["generation"],
        revision=row["revision"],
        updated=datetime.fromisoformat(row["updated"]),
    )


def _event(row: sqlite3.Row) -> EventRecord:
    return EventRecord(
        row["id"],
        datetime.fromisoformat(row["time"]),
        row["kind"],
        row["namespace"],
        row["name"],
        row["type"],
        row["reason"],
        row["message"],
    )


def _check(row: sqlite3.Row) -> CheckRecord:
    return CheckRecord(
        datetime.fromisoformat(row["time"]),
        row["namespace"],
        row["canary"],
        row["revision"],
        row["metric"],
        row["value"],
        row["min"],
        row["max"],
        bool(row["passed"]),
        row["reason"],
        row["query"],
    )
