"""The Prometheus client against a real HTTP server answering each shape Prometheus can give."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from coalmine.errors import QueryError, Unavailable
from coalmine.metrics import Credentials, PrometheusProvider, ProviderSettings
from coalmine.metrics.prometheus_server import free_port
from tests.fixtures.prometheus import (
    FakePrometheus,
    error_body,
    matrix_body,
    scalar_body,
    vector_body,
)

QUERY = "sum(rate(x[1m]))"


def provider(url: str, **settings: object) -> PrometheusProvider:
    return PrometheusProvider(ProviderSettings(url, **settings))  # type: ignore[arg-type]


async def test_a_single_sample_is_the_value(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.reply(vector_body(({}, "99.5")))
    measurement = await provider(fake_prometheus.url).query(QUERY)
    assert (measurement.value, measurement.reason, measurement.query) == (99.5, "", QUERY)
    [request] = fake_prometheus.requests
    assert request.path == "/api/v1/query"
    assert request.params == {"query": QUERY}


async def test_a_scalar_is_accepted_as_one_number(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.reply(scalar_body("2"))
    assert (await provider(fake_prometheus.url).query("1 + 1")).value == 2


NO_DATA = [
    pytest.param(vector_body(), 200, "no data (empty result", id="empty"),
    pytest.param(vector_body(({}, "NaN")), 200, "returned NaN", id="nan"),
    pytest.param(vector_body(({}, "+Inf")), 200, "returned +Inf", id="plus-inf"),
    pytest.param(vector_body(({}, "-Inf")), 200, "returned -Inf", id="minus-inf"),
    pytest.param(
        matrix_body(({}, [(1.0, "1"), (2.0, "2")])), 200, "range vector (matrix)", id="matrix"
    ),
    pytest.param(
        vector_body(({"pod": "a"}, "1"), ({"pod": "b"}, "2")),
        200,
        "returned 2 series, expected one: aggregate them, for example with sum(...) "
        '(series: {pod="a"}, {pod="b"})',
        id="two-series",
    ),
    pytest.param(
        '{"status":"success","data":{"resultType":"string","result":[1,"hi"]}}',
        200,
        "returned a string",
        id="string",
    ),
    pytest.param(
        "<html>upstream connect error</html>",
        500,
        "answered HTTP 500: <html>upstream connect error</html>",
        id="http-500",
    ),
    pytest.param(
        error_body("bad_data", '1:5: parse error: unexpected "}"'),
        400,
        'PromQL error (bad_data): 1:5: parse error: unexpected "}"',
        id="promql-error",
    ),
    pytest.param(
        error_body("execution", "query processing would load too many samples"),
        422,
        "PromQL error (execution): query processing would load too many samples",
        id="execution-error",
    ),
    pytest.param("not json", 200, "something other than its API's JSON: not json", id="not-json"),
]


@pytest.mark.parametrize(("body", "status", "reason"), NO_DATA)
async def test_anything_but_one_finite_number_is_no_data_with_the_reason(
    fake_prometheus: FakePrometheus, body: str, status: int, reason: str
) -> None:
    fake_prometheus.reply(body, status=status)
    measurement = await provider(fake_prometheus.url).query(QUERY)
    assert measurement.value is None
    assert reason in measurement.reason
    assert measurement.query == QUERY


async def test_a_slow_answer_times_out(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.reply(vector_body(({}, "1")), delay=2)
    measurement = await provider(fake_prometheus.url, timeout=0.3).query(QUERY)
    assert measurement.value is None
    assert measurement.reason == (f"Prometheus at {fake_prometheus.url} did not answer within 0.3s")


async def test_a_closed_port_is_a_connection_failure() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    measurement = await provider(url).query(QUERY)
    assert measurement.value is None
    assert measurement.reason.startswith(f"cannot reach Prometheus at {url}: ")


async def test_the_raising_layer_tells_unavailable_from_query_errors(
    fake_prometheus: FakePrometheus,
) -> None:
    with pytest.raises(Unavailable):
        await provider(f"http://127.0.0.1:{free_port()}").instant(QUERY)
    fake_prometheus.reply(error_body("bad_data", "parse error"), status=400)
    with pytest.raises(QueryError, match=r"PromQL error \(bad_data\): parse error"):
        await provider(fake_prometheus.url).instant(QUERY)


async def test_bearer_token_and_custom_headers_are_sent(fake_prometheus: FakePrometheus) -> None:
    settings = {"credentials": Credentials(token="t0k3n"), "headers": {"X-Scope-OrgID": "team-a"}}
    await provider(fake_prometheus.url, **settings).query(QUERY)
    headers = fake_prometheus.requests[-1].headers
    assert headers["Authorization"] == "Bearer t0k3n"
    assert headers["X-Scope-OrgID"] == "team-a"


async def test_basic_auth_is_sent(fake_prometheus: FakePrometheus) -> None:
    credentials = Credentials(username="coalmine", password="s3cret")
    await provider(fake_prometheus.url, credentials=credentials).query(QUERY)
    expected = base64.b64encode(b"coalmine:s3cret").decode()
    assert fake_prometheus.requests[-1].headers["Authorization"] == f"Basic {expected}"


async def test_a_path_prefix_in_the_address_is_kept(fake_prometheus: FakePrometheus) -> None:
    await provider(fake_prometheus.url + "/prometheus/").query(QUERY)
    assert fake_prometheus.requests[-1].path == "/prometheus/api/v1/query"


async def test_tls_verification_can_be_switched_off(fake_prometheus_tls: FakePrometheus) -> None:
    verified = await provider(fake_prometheus_tls.url).query(QUERY)
    assert verified.value is None
    assert "certificate verify failed" in verified.reason
    unverified = await provider(fake_prometheus_tls.url, verify_tls=False).query(QUERY)
    assert unverified.value == 1


async def test_is_online_needs_vector_one_to_answer_one(fake_prometheus: FakePrometheus) -> None:
    prometheus = provider(fake_prometheus.url)
    assert await prometheus.is_online()
    assert fake_prometheus.requests[-1].params == {"query": "vector(1)"}
    fake_prometheus.reply(vector_body(({}, "0")))
    assert not await prometheus.is_online()
    fake_prometheus.reply("", status=503)
    assert not await prometheus.is_online()
    assert not await provider(f"http://127.0.0.1:{free_port()}").is_online()


async def test_range_query_returns_series_of_points(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.reply(matrix_body(({"pod": "a"}, [(100.0, "1"), (115.0, "NaN")])))
    end = datetime(2026, 1, 1, tzinfo=UTC)
    result = await provider(fake_prometheus.url).range(
        QUERY, start=end - timedelta(minutes=10), end=end, step_seconds=15
    )
    [series] = result.series
    assert series.labels == {"pod": "a"}
    assert [p.time for p in series.points] == [100.0, 115.0]
    assert series.points[0].value == 1
    request = fake_prometheus.requests[-1]
    assert request.path == "/api/v1/query_range"
    assert request.params == {
        "query": QUERY,
        "start": f"{(end - timedelta(minutes=10)).timestamp():.3f}",
        "end": f"{end.timestamp():.3f}",
        "step": "15",
    }
