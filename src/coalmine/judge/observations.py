"""What the judge observes per tick and per side: requests, errors, a latency histogram.

Counts, not rates: a rate hides how much evidence it carries. The JSON Lines format of
`coalmine simulate --observations` is parsed here, with errors that name the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from coalmine.errors import CoalmineError

__all__ = ["Histogram", "Side", "TickObservation", "parse_tick"]


@dataclass(frozen=True)
class Histogram:
    """Latency bucket counts: counts[i] above bounds[i-1] and at most bounds[i]; the last
    count is above the last bound. Bounds in milliseconds, increasing."""

    bounds: tuple[float, ...]
    counts: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.counts) != len(self.bounds) + 1:
            raise ValueError(
                f"needs one count more than bounds (the last is above the last bound), got "
                f"{len(self.bounds)} bounds and {len(self.counts)} counts"
            )
        if any(b <= a for a, b in zip(self.bounds, self.bounds[1:], strict=False)):
            raise ValueError(f"bounds must increase, got {list(self.bounds)}")
        if any(c < 0 for c in self.counts):
            raise ValueError(f"counts must not be negative, got {list(self.counts)}")

    @property
    def total(self) -> int:
        return sum(self.counts)

    def above(self, index: int) -> int:
        """Requests above bounds[index]."""
        return sum(self.counts[index + 1 :])

    def quantile_index(self, quantile: float) -> int | None:
        """Index of the smallest bound with at least `quantile` of the requests at or below
        it; None when the quantile is above the last bound or there are no requests."""
        total = self.total
        if total == 0:
            return None
        running = 0
        for index, count in enumerate(self.counts[:-1]):
            running += count
            if running >= quantile * total:
                return index
        return None

    def interpolated_quantile(self, quantile: float) -> float | None:
        """PromQL's histogram_quantile: linear inside the bucket holding the rank. For the
        fixed-range request-duration check only; the judge never interpolates."""
        total = self.total
        if total == 0:
            return None
        rank, below, lower = quantile * total, 0, 0.0
        for bound, count in zip(self.bounds, self.counts, strict=False):
            if below + count >= rank and count > 0:
                return lower + (bound - lower) * (rank - below) / count
            below, lower = below + count, bound
        return self.bounds[-1] if self.bounds else None

    def plus(self, other: Histogram) -> Histogram:
        if other.bounds != self.bounds:
            raise ValueError("histograms with different bounds cannot be added")
        return Histogram(
            self.bounds, tuple(a + b for a, b in zip(self.counts, other.counts, strict=True))
        )


@dataclass(frozen=True)
class Side:
    """One side (primary, canary or baseline) over one tick's window."""

    requests: int
    errors: int
    latency: Histogram | None = None


@dataclass(frozen=True)
class TickObservation:
    primary: Side
    canary: Side
    baseline: Side | None = None

    @property
    def reference(self) -> Side:
        """What the canary is compared with: the baseline when there is one."""
        return self.baseline if self.baseline is not None else self.primary


def parse_tick(data: Any, where: str) -> TickObservation:
    """One line of the observations file, as a dict; `where` names it in errors."""
    if not isinstance(data, dict):
        raise CoalmineError(f"{where}: must be an object with primary and canary")
    unknown = sorted(set(data) - {"primary", "canary", "baseline"})
    if unknown:
        raise CoalmineError(f"{where}: unknown field {unknown[0]!r}; use primary, canary, baseline")
    for side in ("primary", "canary"):
        if side not in data:
            raise CoalmineError(f"{where}: {side} is missing")
    baseline = data.get("baseline")
    return TickObservation(
        primary=_side(data["primary"], f"{where}: primary"),
        canary=_side(data["canary"], f"{where}: canary"),
        baseline=None if baseline is None else _side(baseline, f"{where}: baseline"),
    )


def _side(data: Any, where: str) -> Side:
    if not isinstance(data, dict):
        raise CoalmineError(f"{where}: must be an object with requests, errors, latency_ms")
    unknown = sorted(set(data) - {"requests", "errors", "latency_ms"})
    if unknown:
        raise CoalmineError(
            f"{where}: unknown field {unknown[0]!r}; use requests, errors, latency_ms"
        )
    requests = _count(data.get("requests"), f"{where}.requests")
    errors = _count(data.get("errors", 0), f"{where}.errors")
    if errors > requests:
        raise CoalmineError(f"{where}.errors: {errors} is more than requests ({requests})")
    latency = data.get("latency_ms")
    return Side(requests, errors, None if latency is None else _histogram(latency, where))


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CoalmineError(f"{where}: must be a whole number of at least 0, got {value!r}")
    return value


def _histogram(data: Any, where: str) -> Histogram:
    where = f"{where}.latency_ms"
    if not isinstance(data, dict) or set(data) != {"le", "counts"}:
        raise CoalmineError(f'{where}: write {{"le": [bounds...], "counts": [counts...]}}')
    bounds, counts = data["le"], data["counts"]
    if not isinstance(bounds, list) or not all(
        isinstance(b, int | float) and not isinstance(b, bool) for b in bounds
    ):
        raise CoalmineError(f"{where}.le: must be a list of numbers (milliseconds)")
    if not isinstance(counts, list):
        raise CoalmineError(f"{where}.counts: must be a list of whole numbers")
    try:
        return Histogram(
            tuple(float(b) for b in bounds),
            tuple(_count(c, f"{where}.counts") for c in counts),
        )
    except ValueError as error:
        raise CoalmineError(f"{where}: {error}") from None
