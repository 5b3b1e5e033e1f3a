"""The rows a history is built from, as plain JSON: the local API serves them from its
store, a cluster's are rebuilt from Prometheus; both land in `Records`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = ["CheckRow", "Records", "SampleRow", "TickRow"]


@dataclass(frozen=True)
class TickRow:
    time: datetime
    phase: str
    weight: int
    failed_checks: int
    revision: str


@dataclass(frozen=True)
class CheckRow:
    time: datetime
    revision: str
    metric: str
    value: float | None
    min: float | None
    max: float | None
    passed: bool
    reason: str


@dataclass(frozen=True)
class SampleRow:
    time: datetime
    revision: str
    role: str
    metric: str
    value: float | None
    seconds: float


@dataclass(frozen=True)
class Records:
    ticks: tuple[TickRow, ...] = ()
    checks: tuple[CheckRow, ...] = ()
    samples: tuple[SampleRow, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "ticks": [_row(t) for t in self.ticks],
            "checks": [_row(c) for c in self.checks],
            "samples": [_row(s) for s in self.samples],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Records:
        return cls(
            ticks=tuple(TickRow(**_parsed(t)) for t in data.get("ticks", [])),
            checks=tuple(CheckRow(**_parsed(c)) for c in data.get("checks", [])),
            samples=tuple(SampleRow(**_parsed(s)) for s in data.get("samples", [])),
        )


def _row(row: Any) -> dict[str, Any]:
    found = dict(row.__dict__)
    found["time"] = row.time.isoformat()
    return found


def _parsed(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "time": datetime.fromisoformat(row["time"])}
