"""The local runtime's stop: bounded, and leaving nothing open when its deadline cuts it short."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from coalmine.local.runtime import LocalRuntime
from tests.fixtures.local import runtime_settings


async def refuses(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return True
    writer.close()
    await writer.wait_closed()
    return False


async def test_a_stop_cut_short_by_its_deadline_still_closes_the_listeners(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A canary that will not stop holds the stop past its deadline: the children are
    killed, and the API's and the load tester's listeners closed too (they were left open,
    to be found by the garbage collector in a later test as an unclosed socket)."""
    settings = dataclasses.replace(runtime_settings(tmp_path / "state"), stop_timeout_seconds=1)
    runtime = LocalRuntime(settings)
    await runtime.start()
    assert runtime.api is not None
    api = urlsplit(runtime.api.url).port
    loadtester = runtime._loadtester_address()
    assert api is not None and loadtester is not None
    assert not await refuses(api) and not await refuses(loadtester[1])

    async def never_stops() -> None:
        await asyncio.sleep(3600)

    monkeypatch.setattr(runtime.runner, "stop", never_stops)
    async with asyncio.timeout(30):
        await runtime.stop()

    assert await refuses(api), "the API still listens"
    assert await refuses(loadtester[1]), "the load tester still listens"
