"""The runtime's HTTP sessions to Prometheus: one per address, kept across queries, each
request with its own provider's timeout, credentials and TLS check; closed with the runtime.

Against a real aiohttp server (`FakePrometheus`), which records the client port of each
request: one TCP connection per port, so a repeated port is a reused connection.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator

import pytest

from coalmine.metrics import Credentials, PrometheusProvider, ProviderSettings
from coalmine.metrics.providers.sessions import HttpSessions
from tests.fixtures.prometheus import FakePrometheus, vector_body

QUERY = "sum(rate(x[1m]))"


@pytest.fixture
async def sessions() -> AsyncIterator[HttpSessions]:
    kept = HttpSessions()
    try:
        yield kept
    finally:
        await kept.close()


def provider(sessions: HttpSessions | None, url: str, **settings: object) -> PrometheusProvider:
    return PrometheusProvider(ProviderSettings(url, **settings), sessions=sessions)  # type: ignore[arg-type]


async def test_queries_to_one_server_share_one_session_and_its_connection(
    fake_prometheus: FakePrometheus, sessions: HttpSessions
) -> None:
    for _ in range(5):
        assert (await provider(sessions, fake_prometheus.url).query(QUERY)).value == 1
    assert sessions.open == 1
    assert len({r.client_port for r in fake_prometheus.requests}) == 1, "one connection, kept"


async def test_without_sessions_each_query_opens_and_closes_its_own(
    fake_prometheus: FakePrometheus,
) -> None:
    """The one-shot commands' way (`coalmine query`): nothing to close afterwards."""
    for _ in range(3):
        assert (await provider(None, fake_prometheus.url).query(QUERY)).value == 1
    assert len({r.client_port for r in fake_prometheus.requests}) == 3


async def test_each_request_carries_its_providers_credentials_and_headers(
    fake_prometheus: FakePrometheus, sessions: HttpSessions
) -> None:
    """Two templates on one server with different Secrets, then one Secret changed: each
    query sends its own, over the one session (no cookie or header carried over)."""
    url = fake_prometheus.url
    await provider(sessions, url, credentials=Credentials(token="team-a")).query(QUERY)
    await provider(
        sessions, url, credentials=Credentials(username="b", password="pw"), headers={"X": "b"}
    ).query(QUERY)
    await provider(sessions, url, credentials=Credentials(token="team-a-rotated")).query(QUERY)
    await provider(sessions, url).query(QUERY)
    sent = [(r.headers.get("Authorization"), r.headers.get("X")) for r in fake_prometheus.requests]
    assert sent == [
        ("Bearer team-a", None),
        ("Basic Yjpwdw==", "b"),
        ("Bearer team-a-rotated", None),
        (None, None),
    ]
    assert sessions.open == 1


async def test_another_address_gets_another_session(
    fake_prometheus: FakePrometheus, sessions: HttpSessions
) -> None:
    await provider(sessions, fake_prometheus.url).query(QUERY)
    await provider(sessions, fake_prometheus.url + "/prometheus").query(QUERY)
    assert sessions.open == 2
    assert [r.path for r in fake_prometheus.requests] == [
        "/api/v1/query",
        "/prometheus/api/v1/query",
    ]


async def test_each_provider_keeps_its_timeout_on_the_shared_session(
    fake_prometheus: FakePrometheus, sessions: HttpSessions
) -> None:
    fake_prometheus.reply(vector_body(({}, "1")), delay=1)
    hurried = await provider(sessions, fake_prometheus.url, timeout=0.2).query(QUERY)
    assert hurried.reason == f"Prometheus at {fake_prometheus.url} did not answer within 0.2s"
    patient = await provider(sessions, fake_prometheus.url, timeout=5).query(QUERY)
    assert patient.value == 1


async def test_each_provider_keeps_its_tls_check_on_the_shared_session(
    fake_prometheus_tls: FakePrometheus, sessions: HttpSessions
) -> None:
    verified = await provider(sessions, fake_prometheus_tls.url).query(QUERY)
    assert "certificate verify failed" in verified.reason
    unverified = await provider(sessions, fake_prometheus_tls.url, verify_tls=False).query(QUERY)
    assert unverified.value == 1
    assert (await provider(sessions, fake_prometheus_tls.url).query(QUERY)).value is None


async def test_closed_sessions_close_their_connections_and_refuse_queries(
    fake_prometheus: FakePrometheus,
) -> None:
    """The runtime stopped: a query still made is an outage of the source, not a new
    session left open (the suite turns an unclosed-session warning into a failure)."""
    sessions = HttpSessions()
    await provider(sessions, fake_prometheus.url).query(QUERY)
    await sessions.close()
    assert sessions.open == 0
    late = await provider(sessions, fake_prometheus.url).query(QUERY)
    assert late.value is None
    assert late.reason == f"no query to {fake_prometheus.url}: the metrics sessions are closed"
    assert len(fake_prometheus.requests) == 1
    gc.collect()  # an unclosed session would warn here, failing the test
