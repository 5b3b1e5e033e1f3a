"""`python -m coalmine.demo` as a process: it says where it listens and stops cleanly."""

from __future__ import annotations

import concurrent.futures
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from tests.fixtures.demo import demo_process

DEADLINE = 20.0


def fetch(url: str, timeout: float = DEADLINE) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read().decode()


def in_flight(url: str) -> float:
    _, text = fetch(f"{url}/metrics")
    for family in text_string_to_metric_families(text):
        if family.name == "http_requests_in_flight":
            return family.samples[0].value
    raise AssertionError("no http_requests_in_flight in /metrics")


def test_runs_with_the_version_from_the_environment() -> None:
    with demo_process({"VERSION": "0.0.2"}) as (process, url):
        assert url.startswith("http://127.0.0.1:")
        assert fetch(f"{url}/version") == (200, "Version: 0.0.2; Release: unknown\n")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=DEADLINE) == 0


def test_sigterm_lets_a_request_in_progress_finish() -> None:
    """A scale-down must not cut off an answer: the slow request still gets its 200."""
    with demo_process({"VERSION": "0.0.1"}) as (process, url):
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            slow = pool.submit(fetch, f"{url}/demo/hello?delay=800")
            deadline = time.monotonic() + DEADLINE
            while in_flight(url) < 1:
                assert time.monotonic() < deadline, "the slow request never arrived"
                time.sleep(0.02)
            process.send_signal(signal.SIGTERM)
            assert slow.result(timeout=DEADLINE) == (200, "hello, world! version 0.0.1\n")
        assert process.wait(timeout=DEADLINE) == 0


def test_a_bad_setting_stops_it_with_a_message() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "coalmine.demo"],
        env={"PORT": "eighty", "PATH": ""},
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )
    assert completed.returncode == 1
    assert "PORT: must be a whole number from 0 to 65535, got 'eighty'" in completed.stderr


def test_a_taken_port_is_reported() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        completed = subprocess.run(
            [sys.executable, "-m", "coalmine.demo"],
            env={"PORT": str(port)},
            capture_output=True,
            text=True,
            timeout=DEADLINE,
            check=False,
        )
    assert completed.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in completed.stderr
    assert "set PORT to a free port" in completed.stderr
