"""`coalmine gate` and `coalmine rollback-gate` against a real `coalmine loadtester` process."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from coalmine.cli.main import app

runner = CliRunner()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_healthy(url: str, process: subprocess.Popen[bytes], seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, "the load tester exited"
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url}/healthz did not answer within {seconds}s")


@pytest.fixture(scope="module")
def loadtester_process() -> Iterator[str]:
    """`coalmine loadtester` as a user starts it, on a free port."""
    port = free_port()
    coalmine = Path(sys.executable).with_name("coalmine")
    process = subprocess.Popen(
        [str(coalmine), "loadtester", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def gate(*args: str, url: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COALMINE_LOADTESTER_URL": url})
    return result.exit_code, result.output.strip()


def test_gates_open_and_close_per_canary(loadtester_process: str) -> None:
    url = loadtester_process
    assert gate("gate", "check", "go-demo-7", "-n", "prod", url=url) == (
        0,
        "gate for go-demo-7.prod is closed",
    )
    assert gate("gate", "open", "go-demo-7", "-n", "prod", url=url) == (
        0,
        "gate opened for go-demo-7.prod",
    )
    assert gate("gate", "check", "go-demo-7", "-n", "prod", url=url)[1].endswith("is open")
    assert gate("gate", "check", "go-demo-7", "-n", "staging", url=url)[1].endswith("is closed")
    assert gate("rollback-gate", "check", "go-demo-7", "-n", "prod", url=url)[1].endswith(
        "is closed"
    )
    assert gate("gate", "close", "go-demo-7", "-n", "prod", url=url)[0] == 0
    assert gate("gate", "check", "go-demo-7", "-n", "prod", url=url)[1].endswith("is closed")


def test_rollback_gate_opens_the_rollback_check(loadtester_process: str) -> None:
    assert gate("rollback-gate", "open", "podinfo", url=loadtester_process) == (
        0,
        "rollback opened for podinfo.default",
    )
    request = urllib.request.Request(
        f"{loadtester_process}/rollback/check",
        data=b'{"name":"podinfo","namespace":"default","phase":"Progressing"}',
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert (response.status, response.read()) == (200, b"Approved")


def test_an_unreachable_load_tester_exits_3_saying_so() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    done = subprocess.run(
        [sys.executable, "-m", "coalmine", "gate", "open", "go-demo-7", "--url", url],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert done.returncode == 3
    assert f"cannot reach the load tester at {url}/gate/open" in done.stderr
    assert "set --url or COALMINE_LOADTESTER_URL" in done.stderr
