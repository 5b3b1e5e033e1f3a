"""One raw request to the emulator, answered as (status, parsed JSON body)."""

from __future__ import annotations

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
