"""One raw request to the emulator, answered as (status, parsed JSON body)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import aiohttp

MERGE = {"Content-Type": "application/merge-patch+json"}
JSON_PATCH = {"Content-Type": "application/json-patch+json"}
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


async def call(
    http: aiohttp.ClientSession, method: str, path: str, body: Any = None, **kwargs: Any
) -> tuple[int, Any]:
    async with http.request(method, path, json=body, **kwargs) as response:
        return response.status, await response.json()


async def watch_events(
    http: aiohttp.ClientSession, path: str, params: dict[str, str], count: int, deadline: float = 5
) -> list[dict[str, Any]]:
    """Read up to `count` events from a watch stream (fewer if it ends), within a deadline."""
    events: list[dict[str, Any]] = []
    async with asyncio.timeout(deadline), http.get(path, params=params) as response:
        assert response.status == 200, await response.text()
        async for line in response.content:
            events.append(json.loads(line))
            if len(events) == count:
                break
    return events


async def eventually(check: Callable[[], object], deadline: float = 10, step: float = 0.02) -> None:
    """Wait until `check()` is truthy; fail the test after `deadline` seconds."""
    for _ in range(int(deadline / step)):
        if check():
            return
        await asyncio.sleep(step)
    raise AssertionError(f"still not true after {deadline} s: {check}")
