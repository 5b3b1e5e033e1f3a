"""`coalmine query` against a real HTTP server speaking Prometheus's API."""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from coalmine.cli.main import run
from coalmine.metrics.prometheus_server import free_port
from tests.fixtures.prometheus import FakePrometheus, error_body, matrix_body, vector_body


def coalmine(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["coalmine", *args])
    with pytest.raises(SystemExit) as exited:
        run()
    captured = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 0), captured.out, captured.err


def test_instant_query_prints_a_table_of_series(
    threaded_fake_prometheus: FakePrometheus,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake = threaded_fake_prometheus
    fake.reply(vector_body(({"pod": "a"}, "0.25"), ({"pod": "b"}, "1.5")))
    code, out, _ = coalmine(monkeypatch, capsys, "query", "rate(x[1m])", "--server", fake.url)
    assert code == 0
    assert '{pod="a"}' in out
    assert "0.25" in out
    assert '{pod="b"}' in out
    assert "1.5" in out
    assert fake.requests[-1].params == {"query": "rate(x[1m])"}


def test_server_comes_from_the_environment(
    threaded_fake_prometheus: FakePrometheus,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("COALMINE_PROMETHEUS_URL", threaded_fake_prometheus.url)
    code, out, _ = coalmine(monkeypatch, capsys, "query", "vector(1)", "-o", "json")
    assert code == 0
    assert json.loads(out) == {
        "query": "vector(1)",
        "type": "vector",
        "result": [{"labels": {}, "time": 1700000000.0, "value": 1.0}],
    }


def test_range_query_as_json(
    threaded_fake_prometheus: FakePrometheus,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake = threaded_fake_prometheus
    fake.reply(matrix_body(({"job": "envoy"}, [(100.0, "1"), (115.0, "NaN")])))
    code, out, _ = coalmine(
        monkeypatch, capsys, "query", "up", "--range", "10m", "--step", "15s",
        "--server", fake.url, "-o", "json",
    )  # fmt: skip
    assert code == 0
    assert json.loads(out)["result"] == [
        {"labels": {"job": "envoy"}, "points": [[100.0, 1.0], [115.0, "NaN"]]}
    ]
    params = fake.requests[-1].params
    assert params["step"] == "15"
    assert float(params["end"]) - float(params["start"]) == pytest.approx(600, abs=0.01)


def test_range_query_as_a_table(
    threaded_fake_prometheus: FakePrometheus,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake = threaded_fake_prometheus
    fake.reply(matrix_body(({"job": "envoy"}, [(1700000000.0, "1"), (1700000015.0, "2")])))
    code, out, _ = coalmine(
        monkeypatch, capsys, "query", "up", "--range", "1m", "--server", fake.url
    )
    assert code == 0
    assert "2023-11-14 22:13:20" in out
    assert "2023-11-14 22:13:35" in out


def test_empty_result_says_so(
    threaded_fake_prometheus: FakePrometheus,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    threaded_fake_prometheus.reply(vector_body())
    code, _, err = coalmine(
        monkeypatch, capsys, "query", "up", "--server", threaded_fake_prometheus.url
    )
    assert code == 0
    assert "no data: the query matched no series" in err


def test_promql_error_exits_1_with_prometheus_message(
    threaded_fake_prometheus: FakePrometheus,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    threaded_fake_prometheus.reply(error_body("bad_data", "1:4: parse error"), status=400)
    code, _, err = coalmine(
        monkeypatch, capsys, "query", "up{", "--server", threaded_fake_prometheus.url
    )
    assert code == 1
    assert err.strip() == "error: PromQL error (bad_data): 1:4: parse error"


def test_unreachable_server_exits_3(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code, _, err = coalmine(monkeypatch, capsys, "query", "up", "--server", url)
    assert code == 3
    assert err.startswith(f"error: cannot reach Prometheus at {url}: ")


def test_bad_range_names_the_option(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = coalmine(monkeypatch, capsys, "query", "up", "--range", "ten minutes")
    assert code == 1
    assert "--range/--step: must be a duration" in err


def test_server_defaults_to_the_prometheus_of_a_running_coalmine_up(
    threaded_fake_prometheus: FakePrometheus,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """`coalmine up --prometheus` picks a free port; its health answer names it."""
    monkeypatch.delenv("COALMINE_PROMETHEUS_URL", raising=False)
    health = {"prometheus": threaded_fake_prometheus.url}

    class LocalApi(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(health if self.path == "/v1/health" else {}).encode()
            self.send_response(200 if self.path == "/v1/health" else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), LocalApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        (tmp_path / "api.json").write_text(json.dumps({"url": url, "token": "t", "pid": 1}))
        threaded_fake_prometheus.reply(vector_body(({}, "1")))
        code, out, err = coalmine(
            monkeypatch, capsys, "query", "vector(1)", "--state-dir", str(tmp_path), "-o", "json"
        )
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
    assert code == 0, err
    assert json.loads(out)["result"][0]["value"] == 1.0
    assert threaded_fake_prometheus.requests[-1].params == {"query": "vector(1)"}
