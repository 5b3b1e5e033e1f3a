"""The controller's own life: how it waits for kopf to stop (the rest runs end to end in
tests/e2e/test_operator.py)."""

from __future__ import annotations

import asyncio

from coalmine.kube.runtime.controller import _finish
from coalmine.kube.runtime.health import Health


async def test_a_cancellation_landing_as_kopf_stops_is_not_lost() -> None:
    """In Python 3.11, `asyncio.wait_for` returns normally when what it waits for ends in
    the same loop iteration as a cancellation: the controller's stop went on as if nobody
    had cancelled it. Every moment, one loop iteration apart, after kopf's end."""
    lost = []
    for iterations in range(6):
        operator: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        finishing = asyncio.ensure_future(_finish(operator, Health()))  # type: ignore[arg-type]
        await asyncio.sleep(0)  # waiting for kopf
        operator.set_result(None)  # kopf stops ...
        for _ in range(iterations):
            await asyncio.sleep(0)
        if finishing.done():  # ended before the cancellation: nothing to lose
            continue
        finishing.cancel()  # ... and the stop is cancelled as it does
        await asyncio.gather(finishing, return_exceptions=True)
        if not finishing.cancelled():
            lost.append(iterations)
    assert lost == [], "a cancellation was lost"
