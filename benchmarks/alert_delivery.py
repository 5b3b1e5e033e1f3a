"""What delivering an alert costs, against a local HTTP receiver.

Prints the median time for AlertingNotifier.alert to post one alert to 1 provider and
to 4 providers (posted concurrently, all on this process's event loop, as the receiver
is). Compare the two as a ratio within one run (shared, noisy machine).

Run: .venv/bin/python benchmarks/alert_delivery.py
"""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from coalmine.api import AlertProvider, Canary
from coalmine.api.canary import AlertSeverity, CanaryStatus, Phase
from coalmine.engine.decision import Alert
from coalmine.notify import AlertingNotifier, AlertSender, InMemoryAlertProviders, LocalSecrets
from coalmine.testing import RecordingNotifier

ALERTS = 200


def make_canary(
    *, name: str = "podinfo", alerts: tuple[str, ...] = (), status: CanaryStatus | None = None
) -> Canary:
    analysis = {
        "interval": "1m",
        "threshold": 2,
        "stepWeight": 20,
        "maxWeight": 60,
        "metrics": [
            {"name": "request-success-rate", "thresholdRange": {"min": 99}},
            {"name": "request-duration", "thresholdRange": {"max": 500}},
        ],
        "alerts": [{"name": p, "providerRef": {"name": p}} for p in alerts],
    }
    canary = Canary.model_validate(
        {
            "apiVersion": "coalmine.dev/v1beta1",
            "metadata": {"name": name, "namespace": "test"},
            "spec": {"targetRef": {"name": name}, "service": {"port": 80}, "analysis": analysis},
        }
    )
    return canary.with_status(status) if status else canary


def make_provider(name: str, kind: str, address: str) -> AlertProvider:
    return AlertProvider.model_validate(
        {
            "apiVersion": "coalmine.dev/v1beta1",
            "metadata": {"name": name, "namespace": "test"},
            "spec": {"type": kind, "address": address},
        }
    )


async def receiver() -> tuple[web.AppRunner, str]:
    async def ok(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/{tail:.*}", ok)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


def notifier_for(base: str, types: list[str], clock: Any = None) -> AlertingNotifier:
    providers = [make_provider(f"p{i}", kind, f"{base}/p{i}") for i, kind in enumerate(types)]
    extra = {"clock": clock} if clock else {}
    return AlertingNotifier(
        inner=RecordingNotifier(),
        providers=InMemoryAlertProviders(providers),
        secrets=LocalSecrets(Path("/nonexistent"), {}),
        sender=AlertSender(trust_env=False),
        **extra,
    )


async def delivery_ms(base: str, types: list[str]) -> float:
    notifier = notifier_for(base, types)
    canary = make_canary(
        alerts=tuple(f"p{i}" for i in range(len(types))),
        status=CanaryStatus(phase=Phase.PROGRESSING),
    )
    alert = Alert(AlertSeverity.INFO, "New revision detected, progressing canary analysis.")
    await notifier.alert(canary, alert)  # warm the connection pool
    samples = []
    for _ in range(ALERTS):
        started = time.perf_counter()
        await notifier.alert(canary, alert)
        samples.append(time.perf_counter() - started)
    await notifier.sender.close()
    assert notifier.stats.failed == {}
    return statistics.median(samples) * 1000


async def main() -> None:
    runner, base = await receiver()
    one = await delivery_ms(base, ["slack"])
    four = await delivery_ms(base, ["slack", "msteams", "gchat", "webhook"])
    print(f"alert to 1 provider:  median {one:.2f} ms over {ALERTS} alerts")
    print(f"alert to 4 providers: median {four:.2f} ms ({four / one:.2f}x one provider)")
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
