"""The Prometheus of `coalmine up --prometheus` is supervised like Envoy (real Prometheus)."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from coalmine.local.processes import procfs
from coalmine.local.prometheus import SupervisedPrometheus
from coalmine.metrics.prometheus_server import ScrapeTarget, free_port
from tests.fixtures.local import wait_until

pytestmark = pytest.mark.slow


def supervised(data_dir: Path) -> SupervisedPrometheus:
    target = ScrapeTarget("nothing", f"127.0.0.1:{free_port()}")
    return SupervisedPrometheus([target], port=free_port(), data_dir=data_dir)


@pytest.fixture
async def prometheus(tmp_path: Path) -> AsyncIterator[SupervisedPrometheus]:
    server = supervised(tmp_path / "prometheus")
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_a_killed_prometheus_is_restarted_on_its_port_and_logged(
    prometheus: SupervisedPrometheus, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="coalmine.local.prometheus")
    first, url = prometheus.server.pid, prometheus.url
    assert first is not None
    os.kill(first, signal.SIGKILL)
    await wait_until(lambda: prometheus.restarts == 1, "a restart", within=30)
    assert prometheus.server.running and prometheus.server.pid != first
    assert prometheus.url == url  # its scrapers and queriers keep their address
    messages = [r.getMessage() for r in caplog.records]
    assert any(f"Prometheus (pid {first}) exited with code -9" in m for m in messages), messages
    assert any("Prometheus restarted (restart 1" in m for m in messages), messages


async def test_the_prometheus_a_killed_up_left_is_stopped_by_the_next(tmp_path: Path) -> None:
    data = tmp_path / "prometheus"
    left = supervised(data)
    await left.start()
    left_pid = left.server.pid
    assert left_pid is not None
    assert left._task is not None
    left._task.cancel()  # "coalmine up" dies: nobody supervises or stops it
    second = supervised(data)
    try:
        await second.start()
        assert not procfs.is_running(left_pid)
        assert second.server.running
    finally:
        await second.stop()
        left.server.close()
    assert not procfs.is_running(left_pid)
