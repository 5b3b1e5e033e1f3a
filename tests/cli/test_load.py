"""`coalmine load` against the demo app running in a thread."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from coalmine.cli.main import app

runner = CliRunner()


def test_prints_the_summary(demo_thread_url: str) -> None:
    result = runner.invoke(
        app, ["load", f"{demo_thread_url}/demo/hello", "--rps", "50", "-d", "500ms"]
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("sent     25 requests in 0.5s:")
    assert lines[1] == "status   200: 25"
    assert lines[2] == "errors   none"
    assert lines[3].startswith("latency  p50 ")
    assert lines[3].endswith("(25 answers)")
    assert result.stderr == ""  # no live line when not on a terminal


def test_shows_a_live_line_on_a_terminal(demo_thread_url: str) -> None:
    """stderr is a pseudo-terminal: the live line appears there; stdout keeps the summary."""
    primary, replica = pty.openpty()
    try:
        completed = subprocess.run(
            [
                sys.executable,
                "-c",
                "from coalmine.cli.main import run; run()",
                "load",
                f"{demo_thread_url}/demo/hello",
                "--rps",
                "20",
                "-d",
                "1s",
            ],
            stdout=subprocess.PIPE,
            stderr=replica,
            text=True,
            timeout=30,
            check=False,
            env={**os.environ, "TERM": "xterm", "COLUMNS": "120"},
        )
        os.close(replica)
        replica = -1
        on_terminal = read_all(primary)
    finally:
        os.close(primary)
        if replica != -1:
            os.close(replica)
    assert completed.returncode == 0
    assert completed.stdout.startswith("sent     20 requests")
    assert re.search(r"\d\.\ds/1s  sent \d+ \(.+\)  in flight \d+  ", on_terminal)


def read_all(fd: int) -> str:
    chunks = []
    while select.select([fd], [], [], 1.0)[0]:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the other side closed: Linux reports EIO
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def test_server_errors_still_exit_0(demo_thread_url: str) -> None:
    result = runner.invoke(
        app, ["load", f"{demo_thread_url}/demo/random-error", "--rps", "200", "-d", "500ms"]
    )
    assert result.exit_code == 0, result.output
    assert "500: " in result.stdout


def test_json_output(demo_thread_url: str) -> None:
    urls = [f"{demo_thread_url}/demo/hello", f"{demo_thread_url}/version"]
    result = runner.invoke(
        app,
        [
            "load",
            *urls,
            "--rps",
            "40",
            "--duration",
            "500ms",
            "-H",
            "release: canary",
            "-o",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["statuses"] == {"200": 20}
    assert (data["sent"], data["answered"], data["dropped"], data["errors"]) == (20, 20, 0, {})
    assert set(data["latency_ms"]) == {"p50", "p90", "p99", "max", "mean"}
    assert data["target_rate"] == 40


@pytest.fixture
def refusing_url() -> Iterator[str]:
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{bound.getsockname()[1]}/demo/hello"


def test_exits_1_when_nothing_answers(refusing_url: str) -> None:
    result = runner.invoke(app, ["load", refusing_url, "--rps", "20", "-d", "250ms"])
    assert result.exit_code == 1
    assert "errors   connection_refused: 5" in result.stdout
    assert result.stderr.startswith("no request got an answer (5 connection_refused): ")
    assert refusing_url in result.stderr


def test_a_bad_flag_is_one_line_naming_it() -> None:
    """Through the real entry point, as a user runs it."""
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            "from coalmine.cli.main import run; run()",
            "load",
            "http://127.0.0.1:1/",
            "-H",
            "no-colon",
            "-d",
            "1s",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert completed.returncode == 1
    assert completed.stderr == "error: --header 'no-colon': write NAME:VALUE, e.g. release:0.0.2\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-d", "soon"], '--duration: must be a duration such as "30s"'),
        (["--timeout", "0s"], "timeout: must be more than 0 seconds"),
    ],
)
def test_bad_durations_are_named(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["load", "http://127.0.0.1:1/", *args])
    assert result.exit_code == 1
    assert message in str(result.exception)


def hello_count(base_url: str) -> float:
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=10) as response:
        text = response.read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "http_requests_total" and sample.labels["path"] == "/demo/hello"
    )


def test_ctrl_c_prints_what_it_got_and_exits_130(demo_thread_url: str) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from coalmine.cli.main import run; run()",
            "load",
            f"{demo_thread_url}/demo/hello",
            "--rps",
            "50",
            "-d",
            "60s",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while hello_count(demo_thread_url) < 5:
            assert time.monotonic() < deadline, "no load arrived"
            assert process.poll() is None, "coalmine load ended early"
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == 130, stderr
    assert "(stopped early)" in stdout.splitlines()[0]
    assert "status   200: " in stdout
