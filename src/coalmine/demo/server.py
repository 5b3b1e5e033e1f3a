"""Run the demo service as a process: listen, say where, stop cleanly on SIGTERM or SIGINT.

On a stop signal the listener closes first, then requests already received get
up to SHUTDOWN_GRACE_SECONDS to finish: a scale-down after traffic moved away
never cuts a request short. Once they have, the process ends at once (`exit_now`):
the interpreter's own teardown of its ~400 modules took 0.3-0.7 s more on a busy
machine, paid by every stop of a replica (a scale-down, a rolling update's next step,
`coalmine up` stopping) and by nobody's benefit.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn

from aiohttp import web

from coalmine.demo.app import create_app
from coalmine.demo.settings import DemoSettings
from coalmine.errors import CoalmineError

__all__ = ["SHUTDOWN_GRACE_SECONDS", "exit_now", "main", "serve"]

SHUTDOWN_GRACE_SECONDS = 15.0
"""Longer than the workshop's slowest release (3 s delays), shorter than a patient operator."""


async def serve(
    settings: DemoSettings,
    *,
    announce: Callable[[str], None] = print,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT (or until `stop` is set); `announce` gets the start line."""
    stop = stop or asyncio.Event()
    runner = web.AppRunner(
        create_app(settings), access_log=None, shutdown_timeout=SHUTDOWN_GRACE_SECONDS
    )
    await runner.setup()
    try:
        await _listen(runner, settings)
        host, port = runner.addresses[0][:2]
        announce(f"coalmine demo version {settings.version} listening on http://{host}:{port}")
        with _stop_on_signals(stop):
            await stop.wait()
    finally:
        await runner.cleanup()


async def _listen(runner: web.AppRunner, settings: DemoSettings) -> None:
    try:
        await web.TCPSite(runner, settings.host, settings.port).start()
    except OSError as error:
        raise CoalmineError(
            f"cannot listen on {settings.host}:{settings.port}: {error.strerror or error}; "
            "set PORT to a free port (0 picks one) or HOST to an address of this machine"
        ) from None


@contextmanager
def _stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """Set `stop` on SIGTERM and SIGINT while inside; give the signals back after."""
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)
    for signum in signals:
        loop.add_signal_handler(signum, stop.set)
    try:
        yield
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)


def exit_now(code: int = 0) -> NoReturn:
    """End the process after a clean stop, skipping the interpreter's teardown: the
    server is closed, its requests answered, and stdout and stderr are flushed here;
    nothing else is left to finalize."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main() -> int:
    """`python -m coalmine.demo`: settings from the environment; exit code 1 on a bad one."""
    try:
        settings = DemoSettings.from_env(os.environ)
        asyncio.run(serve(settings, announce=lambda line: print(line, flush=True)))
    except CoalmineError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    exit_now(0)
