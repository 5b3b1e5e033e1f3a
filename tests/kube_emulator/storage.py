"""Objects, the one global resourceVersion counter, the bounded event history, watchers.

Like etcd behind the apiserver: every write takes the next resourceVersion (a string on
the wire, a counter here), is kept in a bounded history, and is pushed to every open
watch on that resource. A watch may start from any resourceVersion still in the history;
older ones are "compacted" and answered with 410 Gone. `compact()` forces that in tests.
The history is the apiserver's watch cache: it keeps at least the last 75 s of events
(its `eventFreshDuration`), at most `history_limit` (102,400, its upper bound), and
at least `history_floor` (100, its lower bound) however old (`watch_cache.go`; one
history for every resource here, one per resource there). Keeping 10,000 events
whatever their age made a watch started after a list of 10,000 Deployments expire
(410) at once while the benchmark wrote, and its cache list again, and again.

A list's continue token is another matter on a real server: the next page is read from
etcd at the token's revision, which stays readable until the apiserver compacts etcd,
every five minutes (`--etcd-compaction-interval`), to the revision of the compaction
before. The watch history's window (here `history_limit` events; the apiserver's watch
cache) can turn over in seconds on a busy cluster; a token does not expire with it.
`etcd_compacted_rv` follows that schedule (and `compact()`).

Stored objects are never mutated in place: writers build a new dict, so readers may
serialise what they get without copying, and each stored version is serialised once
(`text`): the GETs, LISTs and every watch stream that serve it share that text, as the
real apiserver's watch cache shares one encoding of an event among its watchers.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from .catalog import StorageKey

ObjectKey = tuple[str, str]  # (namespace or "", name)
Obj = dict[str, Any]


@dataclass(frozen=True)
class StoredEvent:
    """One change: the object after it (for DELETED: its last state) and before it."""

    rv: int
    type: str  # ADDED, MODIFIED, DELETED
    storage: StorageKey
    obj: Obj
    old: Obj | None
    texts: dict[str, bytes] = field(default_factory=dict, compare=False, repr=False)
    """`obj` encoded, by the apiVersion served (filled by the first watcher that sends it)."""
    at: float = field(default=0.0, compare=False, repr=False)
    """When it happened (monotonic): the history keeps the last 75 s (`Store`)."""


CLOSE = None  # put on a watcher's queue to end its stream


def clone(value: Any) -> Any:
    """A deep copy of JSON data (dicts, lists, scalars): encoded and decoded by orjson,
    in C, about three times faster than a Python walk and ten times `copy.deepcopy`, which
    the emulator's write path spent most of its time in at 5,000 Canaries. Stored
    objects are plain JSON, with nothing shared or cyclic to preserve; what orjson does
    not take (an integer past 64 bits, a key that is not a string) is walked in Python."""
    try:
        return orjson.loads(orjson.dumps(value))
    except TypeError:
        return _walked_clone(value)


def _walked_clone(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _walked_clone(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_walked_clone(item) for item in value]
    return value


def encode(obj: Any) -> bytes:
    """Compact JSON, as the emulator answers (orjson: UTF-8, as Go's encoder writes it;
    the standard library's for what orjson does not take, see `clone`). The bytes are
    copied: orjson's keep the buffer they were written in, several times their length,
    and the store keeps every current object's text and its history's events'."""
    try:
        return bytes(memoryview(orjson.dumps(obj)))
    except TypeError:
        return json.dumps(obj, separators=(",", ":")).encode()


def object_key(obj: Obj) -> ObjectKey:
    metadata = obj["metadata"]
    return (metadata.get("namespace", ""), metadata["name"])


class Store:
    """All objects by storage, with history and watch fan-out."""

    def __init__(
        self,
        history_limit: int = 102_400,
        etcd_compaction_interval: float = 300.0,
        history_fresh: float = 75.0,
        history_floor: int = 100,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rv = 0
        self._clock = clock
        self._history_fresh = history_fresh
        self._history_floor = history_floor
        self._etcd_interval = etcd_compaction_interval
        self._etcd_compacted_rv = 0
        self._etcd_mark = (clock(), 0)
        """When etcd was last compacted, and the revision then (the next compaction's target)."""
        self._objects: dict[StorageKey, dict[ObjectKey, Obj]] = {}
        self._history: deque[StoredEvent] = deque()
        self._history_limit = history_limit
        self._compacted_rv = 0
        self._watchers: dict[StorageKey, set[asyncio.Queue[StoredEvent | None]]] = {}
        self._by_uid: dict[str, tuple[StorageKey, ObjectKey]] = {}
        self._dependents: dict[str, set[tuple[StorageKey, ObjectKey]]] = {}
        self._texts: dict[StorageKey, dict[ObjectKey, tuple[Obj, bytes]]] = {}
        """The encoding of each current object, kept with the object it encodes."""

    @property
    def resource_version(self) -> int:
        return self._rv

    @property
    def compacted_rv(self) -> int:
        """The watch history's start: a watch from an older resourceVersion gets 410."""
        return self._compacted_rv

    @property
    def etcd_compacted_rv(self) -> int:
        """etcd's compacted revision: a continue token older than it gets 410."""
        now, (then, target) = self._clock(), self._etcd_mark
        if now - then >= self._etcd_interval:
            self._etcd_compacted_rv = max(self._etcd_compacted_rv, target)
            self._etcd_mark = (now, self._rv)
        return self._etcd_compacted_rv

    def get(self, storage: StorageKey, key: ObjectKey) -> Obj | None:
        return self._objects.get(storage, {}).get(key)

    def items(self, storage: StorageKey, namespace: str | None = None) -> list[Obj]:
        """Objects sorted by (namespace, name) like etcd keys; one namespace or all."""
        objects = self._objects.get(storage, {})
        keys = sorted(k for k in objects if namespace is None or k[0] == namespace)
        return [objects[k] for k in keys]

    def text(self, storage: StorageKey, obj: Obj) -> bytes:
        """`obj` as JSON: encoded once while it is the stored version (stored objects are
        never changed in place), encoded afresh when it is not (an old version)."""
        key = object_key(obj)
        texts = self._texts.setdefault(storage, {})
        cached = texts.get(key)
        if cached is not None and cached[0] is obj:
            return cached[1]
        encoded = encode(obj)
        if self._objects.get(storage, {}).get(key) is obj:
            texts[key] = (obj, encoded)
        return encoded

    def by_uid(self, uid: str) -> tuple[StorageKey, Obj] | None:
        found = self._by_uid.get(uid)
        if found is None:
            return None
        storage, key = found
        obj = self.get(storage, key)
        return None if obj is None else (storage, obj)

    def dependents(self, owner_uid: str) -> list[tuple[StorageKey, Obj]]:
        """Objects whose ownerReferences name this uid."""
        found = []
        for storage, key in sorted(self._dependents.get(owner_uid, ())):
            obj = self.get(storage, key)
            if obj is not None:
                found.append((storage, obj))
        return found

    def owner_uids(self) -> list[str]:
        """Every uid some object names as its owner (live or not)."""
        return list(self._dependents)

    def forget_owner(self, owner_uid: str) -> None:
        self._dependents.pop(owner_uid, None)

    def all_storages(self) -> list[StorageKey]:
        return list(self._objects)

    def put(self, storage: StorageKey, obj: Obj, event_type: str) -> Obj:
        """Store a new or changed object under the next resourceVersion and tell watchers."""
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        key = object_key(obj)
        bucket = self._objects.setdefault(storage, {})
        old = bucket.get(key)
        bucket[key] = obj
        self._texts.get(storage, {}).pop(key, None)
        self._index(storage, key, old, obj)
        self._record(StoredEvent(self._rv, event_type, storage, obj, old, at=self._clock()))
        return obj

    def remove(self, storage: StorageKey, key: ObjectKey) -> Obj:
        """Delete an object; its DELETED event carries a fresh resourceVersion."""
        old = self._objects[storage].pop(key)
        self._texts.get(storage, {}).pop(key, None)
        self._rv += 1
        final = {**old, "metadata": {**old["metadata"], "resourceVersion": str(self._rv)}}
        self._index(storage, key, old, None)
        self._record(StoredEvent(self._rv, "DELETED", storage, final, old, at=self._clock()))
        return final

    def _index(self, storage: StorageKey, key: ObjectKey, old: Obj | None, new: Obj | None) -> None:
        for obj, adding in ((old, False), (new, True)):
            if obj is None:
                continue
            uid = obj["metadata"].get("uid")
            if uid and adding:
                self._by_uid[uid] = (storage, key)
            elif uid:
                self._by_uid.pop(uid, None)
            for ref in obj["metadata"].get("ownerReferences", []):
                owned = self._dependents.setdefault(ref.get("uid", ""), set())
                (owned.add if adding else owned.discard)((storage, key))

    def _record(self, event: StoredEvent) -> None:
        self._history.append(event)
        history, now = self._history, event.at
        while len(history) > self._history_limit or (
            len(history) > self._history_floor and now - history[0].at > self._history_fresh
        ):
            self._compacted_rv = history.popleft().rv
        for queue in self._watchers.get(event.storage, ()):
            queue.put_nowait(event)

    def events_after(self, storage: StorageKey, rv: int) -> Iterator[StoredEvent]:
        """History of one storage after `rv`; the caller checks `rv >= compacted_rv` first."""
        return (e for e in self._history if e.rv > rv and e.storage == storage)

    def compact(self, rv: int | None = None) -> int:
        """Forget history up to `rv` (default: all of it), as etcd compaction does."""
        target = self._rv if rv is None else min(rv, self._rv)
        while self._history and self._history[0].rv <= target:
            self._history.popleft()
        self._compacted_rv = max(self._compacted_rv, target)
        self._etcd_compacted_rv = max(self._etcd_compacted_rv, target)
        return self._compacted_rv

    def subscribe(self, storage: StorageKey) -> asyncio.Queue[StoredEvent | None]:
        queue: asyncio.Queue[StoredEvent | None] = asyncio.Queue()
        self._watchers.setdefault(storage, set()).add(queue)
        return queue

    def unsubscribe(self, storage: StorageKey, queue: asyncio.Queue[StoredEvent | None]) -> None:
        self._watchers.get(storage, set()).discard(queue)

    def close_watches(self, storage: StorageKey | None = None) -> None:
        """End open watch streams: of one storage, or all (server shutdown)."""
        for key, queues in self._watchers.items():
            if storage is None or key == storage:
                for queue in queues:
                    queue.put_nowait(CLOSE)

    def watcher_count(self) -> int:
        return sum(len(queues) for queues in self._watchers.values())
