"""How soon the Debian Prometheus has data, and how short a rate() window can be.

Run:  .venv/bin/python benchmarks/prometheus_startup.py [runs]

Prints, for coalmine's launcher (1 s scrape interval) scraping a tiny local exporter:
- seconds from start to /-/ready, and to the first sample being queryable;
- the same after a stop and restart on the same port and data directory;
- for rate() windows of 1 s to 5 s, how often an instant query finds no data.
"""

from __future__ import annotations

import json
import statistics
import sys
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from coalmine.metrics import PrometheusServer, ScrapeTarget

FIRST_SAMPLE = 'count_over_time(up{job="bench"}[1h])'


class Exporter(BaseHTTPRequestHandler):
    """Serves one counter that grows by one on every scrape."""

    count = 0

    def do_GET(self) -> None:
        Exporter.count += 1
        body = f"bench_total {Exporter.count}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def timed_start(server: PrometheusServer, before: float = 0) -> tuple[float, float]:
    """(seconds to ready, seconds to the first sample after `before`) for one start."""
    started = time.monotonic()
    server.start()
    ready = time.monotonic() - started
    server.wait_for_samples(FIRST_SAMPLE, minimum=before + 1, timeout=60)
    return ready, time.monotonic() - started


def query(server: PrometheusServer, expression: str) -> list[dict[str, object]]:
    url = f"{server.url}/api/v1/query?" + urllib.parse.urlencode({"query": expression})
    with urllib.request.urlopen(url, timeout=5) as answer:
        result: list[dict[str, object]] = json.load(answer)["data"]["result"]
        return result


def samples(server: PrometheusServer) -> float:
    result = query(server, FIRST_SAMPLE)
    return float(result[0]["value"][1]) if result else 0.0  # type: ignore[index]


def empty_share(server: PrometheusServer, window: str, tries: int = 30) -> float:
    empty = 0
    for _ in range(tries):
        empty += not query(server, f"rate(bench_total[{window}])")
        time.sleep(0.137)
    return empty / tries


def main(runs: int) -> None:
    exporter = ThreadingHTTPServer(("127.0.0.1", 0), Exporter)
    threading.Thread(target=exporter.serve_forever, daemon=True).start()
    target = ScrapeTarget("bench", f"127.0.0.1:{exporter.server_address[1]}")
    fresh, restarted = [], []
    for _ in range(runs):
        server = PrometheusServer([target])
        try:
            fresh.append(timed_start(server))
            before = samples(server)
            server.stop()
            restarted.append(timed_start(server, before)[1])
        finally:
            server.close()
    print(f"runs: {runs}")
    print(f"ready after start (s):          median {statistics.median(r for r, _ in fresh):.2f}")
    print(f"first sample after start (s):   median {statistics.median(f for _, f in fresh):.2f}"
          f"  min {min(f for _, f in fresh):.2f}  max {max(f for _, f in fresh):.2f}")  # fmt: skip
    print(f"first new sample after restart: median {statistics.median(restarted):.2f}")
    with PrometheusServer([target]) as server:
        server.wait_for_samples('count_over_time(up{job="bench"}[10s])', minimum=8, timeout=60)
        for window in ("1s", "2s", "3s", "5s"):
            print(f"rate() over {window}: empty in {empty_share(server, window):.0%} of queries")
    exporter.shutdown()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
