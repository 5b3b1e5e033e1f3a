"""The Prometheus launcher: its generated config and how it fails.

Starting, stopping and restarting the real binary on the same port and data directory
is exercised in test_prometheus_outage.py and by the `prometheus` fixture.
"""

from __future__ import annotations

import json

import pytest

from coalmine.errors import NotFound, Unavailable
from coalmine.metrics import PrometheusServer, ScrapeTarget


def test_config_scrapes_each_target_every_second() -> None:
    server = PrometheusServer(
        [ScrapeTarget("envoy", "127.0.0.1:1234", "/stats/prometheus"), ScrapeTarget("app", "h:1")]
    )
    try:
        config = json.loads(server.config_text())
    finally:
        server.close()
    assert config["global"] == {"scrape_interval": "1000ms", "scrape_timeout": "1000ms"}
    assert config["scrape_configs"] == [
        {
            "job_name": "envoy",
            "metrics_path": "/stats/prometheus",
            "static_configs": [{"targets": ["127.0.0.1:1234"]}],
        },
        {"job_name": "app", "metrics_path": "/metrics", "static_configs": [{"targets": ["h:1"]}]},
    ]


def test_a_missing_binary_says_how_to_install_it() -> None:
    server = PrometheusServer([], binary="/nonexistent/prometheus")
    with pytest.raises(NotFound, match="install the Debian package prometheus"):
        server.start()
    server.close()


def test_a_process_that_exits_is_reported_with_its_log() -> None:
    server = PrometheusServer([], binary="/bin/false", ready_timeout=5)
    with pytest.raises(Unavailable, match="prometheus exited with 1"):
        server.start()
    assert not server.running
    server.close()
