"""A cluster canary's history: its Events on the API emulator, and the operator's own
metrics and Istio's counter in a real Prometheus.

The Events are written by the operator's own writer (`kube.adapters.events.KubeEvents`, which
aggregates repeats as Kubernetes does), with a clock the test sets. The metrics are the
operator's gauges (`telemetry.PrometheusRecorder`) and an `istio_requests_total` counter,
served over HTTP and scraped every second by the real Prometheus.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry, Counter, start_http_server

from coalmine.cli.report import write_report
from coalmine.engine.decision import Event, EventType
from coalmine.history.reading import read_history
from coalmine.history.recent import prometheus_weights
from coalmine.kube.adapters.client import KubeClient
from coalmine.kube.adapters.events import KubeEvents
from coalmine.metrics import PrometheusServer, ScrapeTarget
from coalmine.metrics.providers.base import ProviderSettings
from coalmine.metrics.providers.prometheus import PrometheusProvider
from coalmine.targets.kube import KubeTarget
from coalmine.telemetry.recorder import STATUS, WEIGHT, PrometheusRecorder
from coalmine.web.source import TargetSource
from tests.fixtures.operator import NAMESPACE, canary, create, stored_canary
from tests.kube_emulator import KubeEmulator

pytestmark = pytest.mark.slow

T = datetime(2026, 12, 2, 5, 0, tzinfo=UTC)
CURRENT, PROMOTED = "d" * 16, "b" * 16


@dataclass(frozen=True)
class Exported:
    """What the operator and Istio's sidecars export, as Prometheus scrapes it."""

    recorder: PrometheusRecorder
    requests: Counter
    address: str


def export_weight(recorder: PrometheusRecorder, workload: str, value: float) -> None:
    """coalmine_canary_weight of `workload`, as the recorder sets it at a tick."""
    owner = f"{NAMESPACE}/{workload.removesuffix('-primary')}"
    recorder.series.set(WEIGHT, owner, (workload, NAMESPACE), value)


def export_status(recorder: PrometheusRecorder, name: str, value: float) -> None:
    """coalmine_canary_status of `name`, as the recorder sets it at a tick."""
    recorder.series.set(STATUS, f"{NAMESPACE}/{name}", (name, NAMESPACE), value)


@pytest.fixture(scope="module")
def exported() -> Iterator[Exported]:
    registry = CollectorRegistry()
    recorder = PrometheusRecorder(registry, mesh_provider="istio")
    requests = Counter(
        "istio_requests",
        "Istio's request counter",
        ["reporter", "destination_workload_namespace", "destination_workload", "response_code"],
        registry=registry,
    )
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        yield Exported(recorder, requests, f"127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def prometheus_targets(exported: Exported) -> list[ScrapeTarget]:
    return [ScrapeTarget("coalmine", exported.address)]


async def scraped(prometheus: PrometheusServer) -> None:
    """Once Prometheus has scraped the exported metrics (its first scrape takes a while)."""
    provider = PrometheusProvider(ProviderSettings(prometheus.url))
    for _ in range(150):  # 30 s
        if (await provider.query("coalmine_info")).value == 1:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"Prometheus at {prometheus.url} did not scrape coalmine_info in 30 s")


def target(client: KubeClient) -> KubeTarget:
    return KubeTarget(client, "Kubernetes (emulator)", NAMESPACE)


async def tell(
    client: KubeClient, emulator: KubeEmulator, name: str, *told: tuple[int, str]
) -> None:
    """Write Events about canary `name` as the operator does, each at T + seconds."""
    podinfo = stored_canary(emulator, name)
    for seconds, message in told:
        kind = EventType.WARNING if message.startswith("Rolling") else EventType.NORMAL
        moment = T + timedelta(seconds=seconds)
        writer = KubeEvents(client, instance="operator-0", clock=lambda moment=moment: moment)
        await writer.event(podinfo, Event(message, kind))


def set_status(emulator: KubeEmulator, name: str, **status: object) -> None:
    emulator.set_status("coalmine.dev/v1beta1", "canaries", name, dict(status), NAMESPACE)


async def test_events_name_past_revisions_by_time_and_verdict(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    create(kube_emulator, canary())
    await tell(
        kube_client,
        kube_emulator,
        "podinfo",
        (0, "Initialization done! podinfo.test"),
        (60, "New revision detected! Scaling up podinfo.test"),
        (70, "Starting canary analysis for podinfo.test, canary weight 20"),
        (80, "Advance podinfo.test canary weight 40"),
        (100, "Promotion completed! Scaling down podinfo.test"),
        (180, "New revision detected! Scaling up podinfo.test"),
        (190, "Starting canary analysis for podinfo.test, canary weight 20"),
        (200, "Rolling back podinfo.test failed checks threshold reached 2"),
        (205, "Canary failed! Scaling down podinfo.test"),
        (300, "New revision detected! Scaling up podinfo.test"),
        (310, "Starting canary analysis for podinfo.test, canary weight 20"),
    )
    stored = kube_emulator.objects("v1", "events", NAMESPACE)
    assert max(e["count"] for e in stored) == 3  # aggregated: "New revision detected!" x 3
    set_status(
        kube_emulator,
        "podinfo",
        phase="Progressing",
        canaryWeight=20,
        lastAppliedSpec=CURRENT,
        lastPromotedSpec=PROMOTED,
    )

    history = await read_history(target(kube_client), NAMESPACE, "podinfo")

    described = [(r.revision, r.verdict, r.max_weight) for r in history.revisions]
    assert described == [
        ("2026-12-02T05:00:00Z", "Initialized", 0),
        (PROMOTED, "Succeeded", 40),
        ("2026-12-02T05:03:20Z", "Failed", 0),  # its start and step hidden by aggregation
        (CURRENT, "Progressing", 20),
    ]
    assert history.why(history.revisions[1]).startswith("promoted after 20%, 40%")
    # `coalmine report --revision` finds an earlier revision by the time it began.
    markdown = await write_report(target(kube_client), "podinfo", "2026-12-02T05:03", "-", None)
    assert "**Failed** (revision `2026-12-02T05:03:20Z`" in markdown
    assert "Rolling back podinfo.test failed checks threshold reached 2" in markdown


async def test_an_idle_canary_is_not_read_as_succeeded(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    create(kube_emulator, canary())
    await tell(kube_client, kube_emulator, "podinfo", (0, "Initialization done! podinfo.test"))
    set_status(kube_emulator, "podinfo", phase="Initialized", lastAppliedSpec=CURRENT)
    history = await read_history(target(kube_client), NAMESPACE, "podinfo")
    [only] = history.revisions
    assert (only.revision, only.verdict) == (CURRENT, "Initialized")
    assert history.why(only) == "the first revision: initialized without analysis"


async def test_the_overview_reads_every_canarys_events_in_one_list(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    create(kube_emulator, canary())
    create(kube_emulator, canary("other"))
    await tell(
        kube_client,
        kube_emulator,
        "podinfo",
        (0, "New revision detected! Scaling up podinfo.test"),
        (10, "Starting canary analysis for podinfo.test, canary weight 20"),
        (20, "Advance podinfo.test canary weight 40"),
    )
    set_status(kube_emulator, "podinfo", phase="Progressing", canaryWeight=40)
    set_status(kube_emulator, "other", phase="Succeeded", lastTransitionTime="2026-12-02T04:00:00Z")
    source = TargetSource(target(kube_client))
    canaries = await source.canaries()
    before = len(kube_emulator.requests_to("GET", "/events"))

    weights = await source.weights(canaries)

    assert len(kube_emulator.requests_to("GET", "/events")) == before + 1
    assert [w.weight for w in weights[(NAMESPACE, "podinfo")]] == [0, 20, 40, 40]
    other = weights[(NAMESPACE, "other")]  # no events: flat since its last transition
    assert [(w.time.hour, w.weight) for w in other] == [(4, 0), (datetime.now(UTC).hour, 0)]


async def test_the_overview_asks_prometheus_once_for_every_canary(
    prometheus: PrometheusServer,
    exported: Exported,
    kube_emulator: KubeEmulator,
    kube_client: KubeClient,
) -> None:
    create(kube_emulator, canary())
    create(kube_emulator, canary("other"))
    await scraped(prometheus)
    recorder = exported.recorder
    for value in (0, 20, 40):
        export_weight(recorder, "podinfo", value)
        export_weight(recorder, "podinfo-primary", 100 - value)
        export_weight(recorder, "other", 60)
        await asyncio.sleep(2.5)  # scraped at least twice
    source = TargetSource(target(kube_client), metrics_server=prometheus.url)
    canaries = await source.canaries()
    events_before = len(kube_emulator.requests_to("GET", "/events"))

    weights = await source.weights(canaries)

    assert len(kube_emulator.requests_to("GET", "/events")) == events_before
    assert {w.weight for w in weights[(NAMESPACE, "podinfo")]} <= {0, 20, 40}
    assert {w.weight for w in weights[(NAMESPACE, "other")]} == {60}
    recent = await prometheus_weights(canaries, prometheus.url, recent=timedelta(seconds=20))
    steps = [w.weight for w in recent[(NAMESPACE, "podinfo")]]
    assert steps == sorted(steps) and {0, 20, 40} <= set(steps)  # its own series, not the primary's


async def test_revisions_from_prometheus_and_events_with_what_the_canary_served(
    prometheus: PrometheusServer,
    exported: Exported,
    kube_emulator: KubeEmulator,
    kube_client: KubeClient,
) -> None:
    """Idle, then a promoted analysis, then a rolled-back one, as Prometheus saw them."""
    create(kube_emulator, canary("served"))
    podinfo = stored_canary(kube_emulator, "served")
    recorder = exported.recorder
    ok = exported.requests.labels("destination", NAMESPACE, "served", "200")
    failed = exported.requests.labels("destination", NAMESPACE, "served", "500")
    writer = KubeEvents(kube_client, instance="operator-0")
    served = {"promoted": (60, 0), "rolled back": (30, 20)}
    await scraped(prometheus)

    async def analysis(name: str, verdict: int) -> None:
        await writer.event(podinfo, Event("New revision detected! Scaling up served.test"))
        export_status(recorder, "served", 0)
        for step in (20, 40):
            export_weight(recorder, "served", step)
            await asyncio.sleep(3)
        good, bad = served[name]
        ok.inc(good)
        failed.inc(bad)
        await asyncio.sleep(3)
        export_status(recorder, "served", verdict)
        export_weight(recorder, "served", 0)
        ending = (
            "Promotion completed! Scaling down" if verdict == 1 else "Canary failed! Scaling down"
        )
        await writer.event(podinfo, Event(f"{ending} served.test"))
        await asyncio.sleep(6)

    await writer.event(podinfo, Event("Initialization done! served.test"))
    export_status(recorder, "served", 1)
    export_weight(recorder, "served", 0)
    ok.inc(0)
    failed.inc(0)
    await asyncio.sleep(10)
    await analysis("promoted", 1)
    await analysis("rolled back", 2)
    set_status(
        kube_emulator,
        "served",
        phase="Failed",
        lastAppliedSpec=CURRENT,
        lastPromotedSpec=PROMOTED,
    )

    history = await read_history(
        target(kube_client), NAMESPACE, "served", metrics_server=prometheus.url
    )

    initialized, promoted, rolled_back = history.revisions
    assert initialized.verdict == "Initialized"
    named = datetime.strptime(initialized.revision, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert timedelta(0) <= initialized.started - named < timedelta(seconds=5)  # by its time
    assert {w.phase for w in history.only(initialized).weights} == {"Initialized"}  # not Succeeded
    assert (promoted.revision, promoted.verdict) == (PROMOTED, "Succeeded")
    assert (rolled_back.revision, rolled_back.verdict) == (CURRENT, "Failed")
    assert promoted.max_weight == 40 and rolled_back.max_weight == 40
    # Istio's counter over each revision (increase() extrapolates to the window's edges).
    assert promoted.requests is not None and rolled_back.requests is not None
    assert 60 <= promoted.requests <= 75 and promoted.errors == 0
    assert 50 <= rolled_back.requests <= 63 and 20 <= (rolled_back.errors or 0) <= 26
