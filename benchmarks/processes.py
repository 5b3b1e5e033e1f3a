"""How long the process layer takes: N replicas to ready, a rolling update, a full stop.

The workload is a standard-library HTTP server; probes every 0.1 s, drain 0.05 s. The
rollout figure is what maxSurge 1 / maxUnavailable 0 costs: one replica at a time,
each waiting for the new one to pass its readiness probe.

    .venv/bin/python benchmarks/processes.py [--replicas 5]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from coalmine.api.workloads import Deployment
from coalmine.local.processes import LocalDeployments, ProcessSettings

SERVER = """
import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *args): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"""

SETTINGS = ProcessSettings(probe_period_seconds=0.1, drain_seconds=0.05)


def deployment(replicas: int, version: str) -> Deployment:
    container = {
        "name": "app",
        "command": [sys.executable, "-c", SERVER],
        "env": [{"name": "VERSION", "value": version}],
        "ports": [{"containerPort": 8080}],
        "readinessProbe": {"httpGet": {"path": "/", "port": 8080}},
    }
    return Deployment.model_validate(
        {
            "metadata": {"name": "bench"},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "bench"}},
                "template": {
                    "metadata": {"labels": {"app": "bench"}},
                    "spec": {"containers": [container]},
                },
            },
        }
    )


async def until_complete(runtime: LocalDeployments) -> float:
    started = time.perf_counter()
    async with asyncio.timeout(120):
        while True:
            if runtime.status("default", "bench").complete:
                return time.perf_counter() - started
            await asyncio.sleep(0.01)


async def main(replicas: int) -> None:
    with tempfile.TemporaryDirectory() as state:
        runtime = LocalDeployments(Path(state), settings=SETTINGS)
        await runtime.start()
        await runtime.apply(deployment(replicas, "1"))
        ready = await until_complete(runtime)
        await runtime.apply(deployment(replicas, "2"))
        rollout = await until_complete(runtime)
        started = time.perf_counter()
        await runtime.stop()
        stop = time.perf_counter() - started
    print(f"{replicas} replicas ready after apply: {ready:.2f} s")
    print(
        f"rolling update of {replicas} replicas: {rollout:.2f} s ({rollout / replicas:.2f} s each)"
    )
    print(f"stop of {replicas} replicas: {stop:.2f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=5)
    asyncio.run(main(parser.parse_args().replicas))
