"""Running the controller as a program: logging, signals, and the exit code.

SIGTERM (the kubelet stopping the pod) and SIGINT stop it cleanly: kopf stops its
daemons (each finishes or abandons its tick), the Lease is released so that a
stand-by replica takes over at once, and the connections are closed.

Once started, the start-up objects are frozen out of the garbage collector's scans and
its pauses are measured (`kube.runtime.garbage`), and so is the event loop's lateness
(`kube.runtime.loop_lag`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from coalmine.kube.runtime.controller import Controller
from coalmine.kube.runtime.garbage import GcPauses, freeze_start_up
from coalmine.kube.runtime.loop_lag import LoopLag
from coalmine.kube.runtime.settings import ControllerSettings
from coalmine.logs import configure_logging

__all__ = ["run_until_stopped"]

log = logging.getLogger(__name__)


async def run_until_stopped(settings: ControllerSettings) -> None:
    configure_logging(settings.logs.level, json_lines=settings.logs.json)
    quiet = logging.getLogger().level > logging.DEBUG
    for chatty in ("kopf", "httpx", "httpcore"):  # a line per request otherwise
        logging.getLogger(chatty).setLevel(logging.WARNING if quiet else logging.DEBUG)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    controller = Controller(settings)
    pauses = GcPauses(controller.registry)
    pauses.install()
    lag = asyncio.create_task(LoopLag(controller.registry).run(), name="coalmine loop lag")
    try:
        await controller.start()
        frozen = freeze_start_up()
        log.info(
            "coalmine controller %s: /metrics on port %d, probes on port %d"
            " (%d start-up objects frozen out of the garbage collector's scans)",
            settings.identity,
            controller.metrics_port,
            controller.health_port,
            frozen,
        )
        await controller.run(stop)
    finally:
        lag.cancel()
        pauses.uninstall()
        await controller.close()
