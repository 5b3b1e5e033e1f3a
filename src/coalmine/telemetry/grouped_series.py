"""Series grouped by canary, each canary's lines rendered once per change, not per scrape.

prometheus-client renders every sample of a registry at every scrape: for the per-canary
families (about 24 samples a canary) that was 0.3 to 0.5 s at 1,000 canaries and 1.3 to
2.4 s at 5,000, on the operator's event loop, so every tick in flight waited, at every
scrape (Prometheus scrapes every 15 to 30 s; `benchmarks/exposition.py`). Here each canary's
lines of a family are text kept between scrapes, rendered again only after one of its
values changed; a scrape joins them.

`GroupedSeries` is a prometheus-client collector all the same: registered in the registry,
its `collect` gives the same families (`get_sample_value`, any other encoder), and the
`/metrics` handler (`telemetry.server`) renders the rest of the registry with
prometheus-client while leaving these out (`rendered_apart`), then adds their kept text.
A sample's line is the same in the classic text format and in OpenMetrics; only a family's
header differs. As with Go's client (Flagger's), there are no `_created` series.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import weakref
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString as _go_float

__all__ = ["Family", "GroupedSeries", "rendered_apart"]

DEFAULT_BUCKETS: tuple[float, ...] = tuple(Histogram.DEFAULT_BUCKETS)
"""prometheus-client's (Histogram's default), ending with +Inf."""


@dataclass(frozen=True)
class Family:
    """A metric family; `labels` name the label values a series is given, in order."""

    name: str
    documentation: str
    type: Literal["gauge", "counter", "histogram"]
    labels: tuple[str, ...]
    buckets: tuple[float, ...] = DEFAULT_BUCKETS
    """Upper bounds, for a histogram."""

    @property
    def sample_name(self) -> str:
        """A gauge's or a counter's samples' name."""
        return self.name + "_total" if self.type == "counter" else self.name

    def header(self, *, openmetrics: bool) -> bytes:
        if openmetrics:
            name, help_text = self.name, _escape(self.documentation)
        else:  # (the classic format names a counter by its sample and escapes no quotes)
            name = self.sample_name
            help_text = self.documentation.replace("\\", r"\\").replace("\n", r"\n")
        return f"# HELP {name} {help_text}\n# TYPE {name} {self.type}\n".encode()


@dataclass
class _Value:
    """A gauge's or a counter's series: its line up to the value, and the value."""

    prefix: str
    value: float = 0.0


@dataclass
class _Observed:
    """A histogram series: its lines up to the value (each bucket's, `_count`'s and
    `_sum`'s), its counts per bucket (not cumulative) and their sum."""

    prefixes: tuple[str, ...]
    counts: list[int]
    total: float = 0.0


_Series = dict[tuple[str, ...], _Value | _Observed]
"""One owner's series of one family, by label values. The prefixes are written once per
series: formatting the labels was half of rendering a canary's lines at every tick."""

_GROUPS: weakref.WeakKeyDictionary[CollectorRegistry, list[GroupedSeries]] = (
    weakref.WeakKeyDictionary()
)
_APART: ContextVar[bool] = ContextVar("grouped series rendered apart", default=False)
"""Set by `rendered_apart`: grouped series collect nothing in this context."""


class GroupedSeries(Collector):
    """The series of `families`, grouped by an owner (a canary's key)."""

    def __init__(self, registry: CollectorRegistry, families: Sequence[Family]) -> None:
        self.families = tuple(families)
        self._values: dict[Family, dict[str, _Series]] = {f: {} for f in self.families}
        self._text: dict[Family, dict[str, bytes]] = {f: {} for f in self.families}
        """The kept lines, by family and owner; absent: to render (a value changed)."""
        registry.register(self)
        _GROUPS.setdefault(registry, []).append(self)

    # --- changes -------------------------------------------------------------------------------

    def set(self, family: Family, owner: str, labels: Sequence[str], value: float) -> None:
        self._value(family, owner, labels).value = float(value)

    def inc(self, family: Family, owner: str, labels: Sequence[str], amount: float = 1.0) -> None:
        self._value(family, owner, labels).value += amount

    def observe(self, family: Family, owner: str, labels: Sequence[str], value: float) -> None:
        series, key = self._series(family, owner), tuple(labels)
        found = series.get(key)
        if not isinstance(found, _Observed):
            found = series[key] = _Observed(
                _histogram_prefixes(family, key), [0] * len(family.buckets)
            )
        found.counts[_bucket(family.buckets, value)] += 1
        found.total += value

    def remove(self, owner: str, families: Sequence[Family] | None = None) -> None:
        """Drop the owner's series of `families` (all when None)."""
        for family in self.families if families is None else families:
            self._values[family].pop(owner, None)
            self._text[family].pop(owner, None)

    def _series(self, family: Family, owner: str) -> _Series:
        self._text[family].pop(owner, None)
        return self._values[family].setdefault(owner, {})

    def _value(self, family: Family, owner: str, labels: Sequence[str]) -> _Value:
        series, key = self._series(family, owner), tuple(labels)
        found = series.get(key)
        if not isinstance(found, _Value):
            labels = _label_text(family.labels, key)
            found = series[key] = _Value(f"{family.sample_name}{{{labels}}} ")
        return found

    # --- rendering -----------------------------------------------------------------------------

    def render(self, owner: str) -> None:
        """Render the owner's changed lines now (its tick, not the next scrape, pays)."""
        for family in self.families:
            series = self._values[family].get(owner)
            if series is not None:
                self._kept(family, owner, series)

    def exposition(self, *, openmetrics: bool) -> bytes:
        """Every family with series, header and kept lines (rendering the changed ones)."""
        blocks: list[bytes] = []
        for family in self.families:
            owners = self._values[family]
            if not owners:
                continue
            blocks.append(family.header(openmetrics=openmetrics))
            kept = self._text[family]  # (read here first: the scrape's loop is the hot one)
            for owner, series in owners.items():
                blocks.append(kept.get(owner) or self._kept(family, owner, series))
        return b"".join(blocks)

    def _kept(self, family: Family, owner: str, series: _Series) -> bytes:
        """The owner's lines of `family`, rendered if a value changed since."""
        text = self._text[family].get(owner)
        if text is None:
            text = self._text[family][owner] = _lines(family, series)
        return text

    def collect(self) -> Iterator[Metric]:
        if _APART.get():
            return
        for family in self.families:  # (`list` copies a dict at once: another thread's
            # scrape, as prometheus-client's own server makes, sees no dict change size)
            owners = list(self._values[family].values())
            if owners:
                yield _metric(family, [s for series in owners for s in list(series.items())])


@contextlib.contextmanager
def rendered_apart(registry: CollectorRegistry) -> Iterator[list[GroupedSeries]]:
    """Within: the registry's grouped series collect nothing (in this context only), so
    prometheus-client renders the rest; yields them, to add their `exposition`."""
    token = _APART.set(True)
    try:
        yield list(_GROUPS.get(registry, ()))
    finally:
        _APART.reset(token)


def _number(value: float) -> str:
    """A value as prometheus-client writes it ("1.0", "+Inf", "NaN")."""
    text: str = _go_float(value)  # type: ignore[no-untyped-call]
    return text


def _bucket(bounds: Sequence[float], value: float) -> int:
    """The first bucket whose bound is at least `value` (the last, +Inf, for NaN)."""
    return min(bisect.bisect_left(bounds, value), len(bounds) - 1)


def _cumulative(counts: Sequence[int]) -> list[float]:
    """Counts per bucket as the exposition gives them: each with those below it."""
    return [float(total) for total in itertools.accumulate(counts)]


def _escape(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _label_text(names: Sequence[str], values: Sequence[str]) -> str:
    """Labels sorted by name, as prometheus-client writes them."""
    pairs = sorted(zip(names, values, strict=True))
    return ",".join(f'{name}="{_escape(value)}"' for name, value in pairs)


def _histogram_prefixes(family: Family, values: tuple[str, ...]) -> tuple[str, ...]:
    names = (*family.labels, "le")
    buckets = [
        f"{family.name}_bucket{{{_label_text(names, (*values, _number(bound)))}}} "
        for bound in family.buckets
    ]
    labels = _label_text(family.labels, values)
    return (*buckets, f"{family.name}_count{{{labels}}} ", f"{family.name}_sum{{{labels}}} ")


def _lines(family: Family, series: _Series) -> bytes:
    out: list[str] = []
    for found in series.values():
        if isinstance(found, _Observed):
            cumulative = _cumulative(found.counts)
            values = (*cumulative, cumulative[-1], found.total)  # (then _count, _sum)
            for prefix, value in zip(found.prefixes, values, strict=True):
                out.append(f"{prefix}{_number(value)}\n")
        else:
            out.append(f"{found.prefix}{_number(found.value)}\n")
    return "".join(out).encode()


def _metric(family: Family, series: list[tuple[tuple[str, ...], _Value | _Observed]]) -> Metric:
    labels = list(family.labels)
    if family.type == "histogram":
        histogram = HistogramMetricFamily(family.name, family.documentation, labels=labels)
        for values, observed in series:
            assert isinstance(observed, _Observed)  # (a family's series are all of its type)
            bounds = [_number(bound) for bound in family.buckets]
            buckets = list(zip(bounds, _cumulative(observed.counts), strict=True))
            histogram.add_metric(list(values), buckets, observed.total)
        return histogram
    kind = CounterMetricFamily if family.type == "counter" else GaugeMetricFamily
    metric = kind(family.name, family.documentation, labels=labels)
    for values, value in series:
        assert isinstance(value, _Value)
        metric.add_metric(list(values), value.value)
    return metric
