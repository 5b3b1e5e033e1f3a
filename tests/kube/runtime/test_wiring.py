"""The operator's wiring: its metric queries share one HTTP session per Prometheus, which
`Wiring.close` closes (issue 16: a new session per query cost the event loop ~1.8 ms)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from coalmine.kube.adapters.client import KubeClient
from coalmine.kube.runtime.settings import AnalysisSettings, ControllerSettings
from coalmine.kube.runtime.wiring import wire
from tests.engine.builders import canary
from tests.fixtures.prometheus import FakePrometheus


async def test_the_measurer_and_the_observer_share_a_session_closed_with_the_wiring(
    kube_client: KubeClient, fake_prometheus: FakePrometheus
) -> None:
    settings = ControllerSettings(analysis=AnalysisSettings(metrics_server=fake_prometheus.url))
    wiring = wire(kube_client, settings, CollectorRegistry())
    subject = canary()
    try:
        for _ in range(3):
            measured = await wiring.ports.measurer.measure(
                subject, subject.spec.analysis.metrics[0]
            )
            assert measured.value == 1, measured.reason
        assert wiring.ports.observer is not None
        await wiring.ports.observer.observe(subject, 60)
        assert wiring.sessions.open == 1
        ports = {r.client_port for r in fake_prometheus.requests}
        assert len(fake_prometheus.requests) == 3 + 6, "3 checks, then 3 counts of 2 sides"
        assert len(ports) == 1, "one connection, kept"
    finally:
        await wiring.close()
    assert wiring.sessions.open == 0
