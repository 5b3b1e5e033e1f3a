"""Per-cluster request metrics from Envoy's own counters: parsing and window arithmetic.

Pure functions over timestamped samples of `/stats/prometheus`, read with
prometheus_client's parser of the text format (what Prometheus reads from the same
Envoy); the quantiles are PromQL's histogram_quantile, computed by the judge's histogram
(the code the simulated built-in checks use). Everything is computed
from DELTAS between samples, so it covers exactly the window asked for. Envoy's
`server.uptime` comes with each sample: when it goes down, Envoy restarted and every
counter began again at zero, so the later value is the increase (a reset, never a drop,
even when a counter climbed back above its old value); a counter that went down without
it is read the same way.

What a window cannot honestly answer is not a number and not a failure either:
- the window reaches back before the collector's first sample (`coalmine up` restarted
  less than a window ago), or before the replicas of an earlier revision behind the
  cluster were drained (their last answers are counted when they finish, see
  `StatsCollector`): "waiting for Ns of data since ..." (`Measurement.waiting`);
- no sample in the window because Envoy's admin API does not answer: an outage of the
  source (`Measurement.outage`).
Both hold the analysis instead of failing a check (see engine.hold).

What the numbers mean, as measured on Envoy 1.40:
- requests: responses per class from `upstream_rq_xx` (1xx..5xx). These count one per
  downstream request routed to the cluster, including Envoy's own answers: 503 for a
  dead or empty cluster (while `upstream_rq_total` stays 0) and 504 for a route timeout.
  Retried attempts are not counted again; only the final answer is.
- durations: the `upstream_rq_time` histogram, whole milliseconds, updated only at each
  stats flush. Its sum is Envoy's approximation (a value counts as the middle of its
  internal two-significant-digit bin, e.g. 100 ms as 105 ms), so averages read up to
  about 5 % high.
- max: the upper bound of the highest bucket that saw a request (a bucket bound, not the
  exact maximum); a request above the last bound (30 s) reads as that bound.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample as PromSample

from coalmine.engine.observations import Measurement
from coalmine.engine.windows import waiting_reason
from coalmine.judge import observations as judged

__all__ = [
    "STATS_FILTER",
    "ZERO",
    "ClusterCounters",
    "ClusterWindow",
    "Histogram",
    "Sample",
    "Since",
    "parse_prometheus",
    "parse_uptime",
    "served_between",
    "summarize",
    "waiting_since",
]

STATS_FILTER = (
    r"^(cluster\.[^.]+\.(upstream_rq_[1-5]xx|upstream_rq_time|upstream_rq_total)|server\.uptime)$"
)
"""Envoy stat names the collector asks for (the admin API filters before rendering).
`upstream_rq_total` exists for every cluster from the start, so it tells an idle cluster
from an unknown one: the others appear only once used. `server.uptime` tells a restart."""
SOURCE = "Envoy stats"
"""How messages name this source."""
COLLECTOR_STARTED = "the Envoy stats collector started then: coalmine up (re)started"
"""Why a window reaching back before the collector's first sample waits."""


@dataclass(frozen=True)
class Histogram:
    """Cumulative bucket counts; `cumulative[-1]` is the +Inf bucket (= count)."""

    bounds: tuple[float, ...]
    cumulative: tuple[int, ...]
    total_ms: float

    @property
    def count(self) -> int:
        return self.cumulative[-1] if self.cumulative else 0

    def minus(self, earlier: Histogram) -> Histogram:
        """The observations since `earlier`; all of them when a bucket went down in between
        (Envoy restarted, or replaced the cluster: its counts began again at zero)."""
        pairs = zip(self.cumulative, earlier.cumulative, strict=False)
        if self.bounds != earlier.bounds or any(now < then for now, then in pairs):
            return self
        counts = tuple(
            now - then for now, then in zip(self.cumulative, earlier.cumulative, strict=True)
        )
        return Histogram(self.bounds, counts, max(0.0, self.total_ms - earlier.total_ms))

    def plus(self, other: Histogram) -> Histogram:
        if not other.cumulative:
            return self
        if not self.cumulative:
            return other
        counts = tuple(a + b for a, b in zip(self.cumulative, other.cumulative, strict=True))
        return Histogram(self.bounds, counts, self.total_ms + other.total_ms)

    def quantile(self, q: float) -> float | None:
        """PromQL's histogram_quantile, with the code the simulated built-in checks use
        (`judge.observations.Histogram.interpolated_quantile`): linear within the bucket
        holding rank q, the last finite bound above it; None without observations."""
        if self.count == 0 or not self.bounds:
            return None
        return self.per_bucket().interpolated_quantile(q)

    def highest_bound(self) -> float | None:
        """Upper bound of the highest bucket holding an observation (the last finite one
        for observations above every bound): `histogram_quantile(1, ...)`, as the
        request-duration-max built-in asks Prometheus."""
        return self.quantile(1.0)

    def per_bucket(self) -> judged.Histogram:
        """The counts of each bucket (not cumulative), the judge's histogram."""
        pairs = zip(self.cumulative, (0, *self.cumulative), strict=False)
        counts = [now - below for now, below in pairs]
        return judged.Histogram(self.bounds, tuple(counts))


EMPTY = Histogram((), (), 0.0)


@dataclass(frozen=True)
class ClusterCounters:
    responses: tuple[int, int, int, int, int]
    """Responses by class: 1xx, 2xx, 3xx, 4xx, 5xx."""
    durations: Histogram
    attempts: int = 0
    """Requests sent to an endpoint (`upstream_rq_total`): retries count again, and
    requests Envoy answered itself (no endpoint reachable) do not count."""


ZERO = ClusterCounters((0, 0, 0, 0, 0), EMPTY)


@dataclass(frozen=True)
class Sample:
    time: float
    """When it was taken, in the collector's clock (monotonic seconds)."""
    clusters: Mapping[str, ClusterCounters]
    uptime: float | None = None
    """Envoy's `server.uptime` in seconds: lower than the sample before means a restart."""


@dataclass(frozen=True)
class ClusterWindow:
    """One cluster's traffic over a window. Values Envoy cannot give are "no data" with a
    reason (no requests, no durations yet, no samples), never a passing number."""

    cluster: str
    window_s: float
    covered_s: float
    """Seconds between the first and last sample used; less than `window_s` while the
    collector has not been running that long."""
    requests: Measurement
    request_rate: Measurement
    """Requests per second over `covered_s`."""
    errors_5xx: Measurement
    success_rate: Measurement
    """Non-5xx responses / all responses × 100."""
    average_ms: Measurement
    p99_ms: Measurement
    max_ms: Measurement
    """A bucket bound, not the exact maximum (see the module docstring)."""
    durations: Histogram

    def quantile_ms(self, q: float) -> Measurement:
        value = self.durations.quantile(q)
        if value is None:
            return Measurement.no_data(self._no_durations())
        return Measurement.of(value)

    def _no_durations(self) -> str:
        return (
            f"no request durations recorded for cluster {self.cluster!r} in the last"
            f" {self.window_s:g}s (Envoy records them at each stats flush)"
        )


def parse_prometheus(text: str) -> dict[str, ClusterCounters]:
    """The counters of every cluster in a `/stats/prometheus` answer, read by
    prometheus_client's parser of the text format (what Prometheus reads from the same
    Envoy). Families are matched by name: the parser names a counter's samples
    `<family>_total` whatever Envoy called them."""
    responses: dict[str, list[int]] = {}
    buckets: dict[str, list[tuple[float, int]]] = {}
    totals: dict[str, float] = {}
    attempts: dict[str, int] = {}
    for family, sample in _samples(text):
        cluster = sample.labels.get("envoy_cluster_name")
        if cluster is None:
            continue
        if family == "envoy_cluster_upstream_rq_xx":
            classes = responses.setdefault(cluster, [0] * 5)
            classes[int(sample.labels["envoy_response_code_class"]) - 1] = int(sample.value)
        elif sample.name == "envoy_cluster_upstream_rq_time_bucket":
            bound = float(sample.labels["le"])
            buckets.setdefault(cluster, []).append((bound, int(sample.value)))
        elif sample.name == "envoy_cluster_upstream_rq_time_sum":
            totals[cluster] = sample.value
        elif family == "envoy_cluster_upstream_rq" and sample.name.endswith("_total"):
            attempts[cluster] = int(sample.value)
    return {
        cluster: ClusterCounters(
            tuple(responses.get(cluster, [0] * 5)),  # type: ignore[arg-type]
            _histogram(buckets.get(cluster, []), totals.get(cluster, 0.0)),
            attempts.get(cluster, 0),
        )
        for cluster in responses.keys() | buckets.keys() | attempts.keys()
    }


def parse_uptime(text: str) -> float | None:
    """`envoy_server_uptime` from a `/stats/prometheus` answer; None when absent."""
    for family, sample in _samples(text):
        if family == "envoy_server_uptime":
            return float(sample.value)
    return None


def _samples(text: str) -> Iterator[tuple[str, PromSample]]:
    """(family name, sample) of every sample in the text."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            yield family.name, sample


def _histogram(buckets: list[tuple[float, int]], total: float) -> Histogram:
    if not buckets:
        return EMPTY
    buckets.sort()
    bounds = tuple(bound for bound, _ in buckets if bound != float("inf"))
    return Histogram(bounds, tuple(count for _, count in buckets), total)


@dataclass(frozen=True)
class Since:
    """Since when the samples hold data a window may use (the collector's first sample, or
    the first one after an earlier revision's replicas were drained), and where `now` is
    on the wall clock, so that a window reaching back further can say since when."""

    started: float
    """The first sample a window may begin at, in the collector's clock."""
    wall_now: datetime
    """The wall-clock time of `now`."""
    slack_s: float = 1.0
    """A window may start this long before `started` (one scrape interval, when nothing
    came before the first sample)."""
    why: str = COLLECTOR_STARTED
    """What happened at `started`, for the waiting reason."""

    def wall(self, time: float, now: float) -> datetime:
        return self.wall_now - timedelta(seconds=now - time)


def summarize(
    samples: Sequence[Sample],
    cluster: str,
    window_s: float,
    now: float,
    scrape_error: str = "",
    since: Since | None = None,
) -> ClusterWindow:
    """`cluster`'s traffic in (now - window_s, now], from samples sorted by time.
    `scrape_error` (why the latest scrape failed) goes into a "no samples" reason; with
    `since`, a window that reaches back before the data waits for it."""
    used = _window_samples(samples, now - window_s, now)
    young = waiting_since(window_s, now, since)
    if young is not None:
        return _nothing(cluster, window_s, young)
    if len(used) < 2:
        reason = (
            f"not enough stats samples in the last {window_s:g}s ({len(samples)} kept in all);"
            " the collector needs two scrapes of Envoy inside the window"
        )
        if scrape_error:
            reason += f"; the last scrape failed: {scrape_error}"
            return _nothing(cluster, window_s, Measurement.outage(SOURCE, reason))
        return _no_samples(cluster, window_s, reason)
    responses = [0, 0, 0, 0, 0]
    durations = EMPTY
    for earlier, later in itertools.pairwise(used):
        before = earlier.clusters.get(cluster, ZERO)
        if _restarted(earlier, later):
            before = ZERO
        after = later.clusters.get(cluster, ZERO)
        for index in range(5):
            responses[index] += _increase(before.responses[index], after.responses[index])
        durations = durations.plus(after.durations.minus(before.durations))
    covered = used[-1].time - used[0].time
    if not any(cluster in sample.clusters for sample in used):
        return _no_samples(cluster, window_s, f"Envoy has no cluster named {cluster!r}")
    return _window(cluster, window_s, covered, responses, durations)


def _restarted(earlier: Sample, later: Sample) -> bool:
    return earlier.uptime is not None and later.uptime is not None and later.uptime < earlier.uptime


def waiting_since(window_s: float, now: float, since: Since | None) -> Measurement | None:
    """ "Waiting" when the window starts before `since` (the collector's first sample, or
    an earlier revision's drain).

    A cluster that appears later (created, or Envoy restarted) has counted from zero
    since it appeared, so nothing is missing.
    """
    if since is None or since.started <= now - window_s + since.slack_s:
        return None
    at = since.wall(since.started, now)
    return Measurement.waiting(SOURCE, at, waiting_reason(window_s, at, since.why))


def _window_samples(samples: Sequence[Sample], start: float, end: float) -> list[Sample]:
    """The last sample at or before `start` (the baseline), then every one up to `end`."""
    inside = [sample for sample in samples if start < sample.time <= end]
    before = [sample for sample in samples if sample.time <= start]
    if not inside:
        return []
    return ([before[-1]] if before else []) + inside


def _increase(before: int, after: int) -> int:
    return after - before if after >= before else after


def served_between(before: ClusterCounters, after: ClusterCounters) -> tuple[int, int]:
    """Responses and 5xx responses between two readings of one cluster's counters; a
    counter that went down restarted from zero (Envoy restarted, or the cluster was
    removed and added again)."""
    increases = [_increase(b, a) for b, a in zip(before.responses, after.responses, strict=True)]
    return sum(increases), increases[4]


def _window(
    cluster: str, window_s: float, covered: float, responses: list[int], durations: Histogram
) -> ClusterWindow:
    total, errors = sum(responses), responses[4]
    where = f"for cluster {cluster!r} in the last {window_s:g}s"
    no_requests = Measurement.no_data(f"no requests {where}")
    no_durations = Measurement.no_data(f"no request durations recorded {where}")
    p99, highest = durations.quantile(0.99), durations.highest_bound()
    return ClusterWindow(
        cluster=cluster,
        window_s=window_s,
        covered_s=covered,
        requests=Measurement.of(total),
        request_rate=Measurement.of(total / covered) if covered > 0 else no_requests,
        errors_5xx=Measurement.of(errors),
        success_rate=Measurement.of((total - errors) / total * 100) if total else no_requests,
        average_ms=(
            Measurement.of(durations.total_ms / durations.count)
            if durations.count
            else no_durations
        ),
        p99_ms=Measurement.of(p99) if p99 is not None else no_durations,
        max_ms=Measurement.of(highest) if highest is not None else no_durations,
        durations=durations,
    )


def _no_samples(cluster: str, window_s: float, reason: str) -> ClusterWindow:
    return _nothing(cluster, window_s, Measurement.no_data(reason))


def _nothing(cluster: str, window_s: float, nothing: Measurement) -> ClusterWindow:
    return ClusterWindow(
        cluster, window_s, 0.0, nothing, nothing, nothing, nothing, nothing, nothing, nothing, EMPTY
    )
