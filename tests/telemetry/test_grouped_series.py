"""The per-canary series: the text kept between scrapes is what prometheus-client would write."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics import exposition as openmetrics
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text

from coalmine.telemetry import grouped_series
from coalmine.telemetry.grouped_series import Family, GroupedSeries
from coalmine.telemetry.server import exposition

OPENMETRICS = "application/openmetrics-text; version=1.0.0"

STATUS = Family("t_status", 'a "quoted" help\\ on\ntwo lines', "gauge", ("name", "namespace"))
DURATION = Family("t_seconds", "seconds", "histogram", ("name", "namespace"), (0.1, 1.0, math.inf))
VERDICTS = Family("t_verdicts", "verdicts", "counter", ("name", "strategy"))


def filled() -> tuple[CollectorRegistry, GroupedSeries]:
    registry = CollectorRegistry()
    Gauge("t_other", "a metric of prometheus-client's own", registry=registry).set(2)
    series = GroupedSeries(registry, (STATUS, DURATION, VERDICTS))
    for n, name in enumerate(("web", 'odd "name"\\with\nall', "api")):
        owner = f"default/{name}"
        series.set(STATUS, owner, (name, "default"), math.nan if n == 2 else n)
        for seconds in (0.05, 0.5, 5.0)[: n + 1]:
            series.observe(DURATION, owner, (name, "default"), seconds)
        series.inc(VERDICTS, owner, (name, "canary"))
        series.render(owner)
    return registry, series


def as_prometheus_client_writes_it(registry: CollectorRegistry, accept: str) -> bytes:
    """The same registry, every family rendered by prometheus-client (`collect`)."""
    encode = openmetrics.generate_latest if accept == OPENMETRICS else generate_latest
    return bytes(encode(registry))


@pytest.mark.parametrize("accept", ["text/plain", OPENMETRICS])
def test_the_kept_text_is_what_prometheus_client_writes(accept: str) -> None:
    registry, _ = filled()

    served, _ = exposition(registry, accept)

    expected = as_prometheus_client_writes_it(registry, accept)
    assert sorted(served.splitlines()) == sorted(expected.splitlines())
    assert served.endswith(b"# EOF\n") is (accept == OPENMETRICS)


@pytest.mark.parametrize("accept", ["text/plain", OPENMETRICS])
def test_the_text_parses_with_every_family_whole(accept: str) -> None:
    registry, _ = filled()

    served, _ = exposition(registry, accept)

    parse = parse_openmetrics if accept == OPENMETRICS else parse_text
    families = {family.name: family for family in parse(served.decode())}
    assert set(families) == {"t_other", "t_status", "t_seconds", "t_verdicts"}
    buckets = {
        s.labels["le"]: s.value
        for s in families["t_seconds"].samples
        if s.name == "t_seconds_bucket" and s.labels["name"] == "api"
    }
    assert buckets == {"0.1": 1.0, "1.0": 2.0, "+Inf": 3.0}
    odd = [s for s in families["t_status"].samples if s.labels["name"] == 'odd "name"\\with\nall']
    assert [s.value for s in odd] == [1.0]


def test_a_change_after_a_scrape_is_in_the_next_one() -> None:
    registry, series = filled()
    exposition(registry, "text/plain")

    series.set(STATUS, "default/web", ("web", "default"), 2)
    series.observe(DURATION, "default/web", ("web", "default"), 0.5)

    assert registry.get_sample_value("t_status", {"name": "web", "namespace": "default"}) == 2
    served, _ = exposition(registry, "text/plain")
    assert b't_status{name="web",namespace="default"} 2.0\n' in served
    assert b't_seconds_count{name="web",namespace="default"} 2.0\n' in served


def test_a_scrape_renders_only_the_series_changed_since_the_last(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry, series = filled()
    exposition(registry, "text/plain")
    rendered: list[str] = []
    lines = grouped_series._lines
    monkeypatch.setattr(
        grouped_series, "_lines", lambda family, s: rendered.append(family.name) or lines(family, s)
    )

    exposition(registry, "text/plain")
    assert rendered == []
    series.observe(DURATION, "default/api", ("api", "default"), 0.5)
    exposition(registry, "text/plain")
    assert rendered == ["t_seconds"]


def test_an_owner_removed_leaves_no_line_and_the_other_families_stay() -> None:
    registry, series = filled()

    series.remove("default/web", (STATUS, DURATION))

    served, _ = exposition(registry, "text/plain")
    assert b'name="web",namespace' not in served
    assert b't_verdicts_total{name="web",strategy="canary"} 1.0\n' in served
    assert (
        registry.get_sample_value("t_status", {"name": "api", "namespace": "default"}) is not None
    )


def test_a_family_without_series_has_no_header() -> None:
    registry = CollectorRegistry()
    GroupedSeries(registry, (STATUS,))

    served, _ = exposition(registry, "text/plain")

    assert b"t_status" not in served
