"""A small client for Envoy's admin API: readiness, stats, the listeners actually bound."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp

from coalmine.errors import Unavailable

__all__ = ["EnvoyAdmin"]


class EnvoyAdmin:
    """One running Envoy's admin endpoint. Every call has a timeout; a call that cannot
    reach Envoy raises Unavailable."""

    def __init__(self, session: aiohttp.ClientSession, url: str, timeout_s: float) -> None:
        self.url = url
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def is_ready(self) -> bool:
        """True once Envoy has initialised (its initial xDS files read) and serves."""
        try:
            async with self._session.get(f"{self.url}/ready", timeout=self._timeout) as answer:
                return answer.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def stats(self, name_regex: str) -> dict[str, Any]:
        """Counters, gauges and text readouts whose name matches `name_regex`."""
        document = await self._get_json("/stats", {"format": "json", "filter": name_regex})
        return {
            entry["name"]: entry["value"]
            for entry in document.get("stats", [])
            if "name" in entry and "value" in entry
        }

    async def prometheus(self, name_regex: str) -> str:
        """`/stats/prometheus` restricted to stats whose Envoy name matches `name_regex`."""
        return await self._get_text("/stats/prometheus", {"filter": name_regex})

    async def listeners(self) -> dict[str, tuple[str, int]]:
        """Active listeners by name, with the address each is actually bound to."""
        document = await self._get_json("/listeners", {"format": "json"})
        bound = {}
        for status in document.get("listener_statuses", []):
            socket = status.get("local_address", {}).get("socket_address", {})
            bound[status["name"]] = (socket.get("address", ""), int(socket.get("port_value", 0)))
        return bound

    async def _get_json(self, path: str, params: Mapping[str, str]) -> dict[str, Any]:
        try:
            async with self._session.get(
                f"{self.url}{path}", params=params, timeout=self._timeout
            ) as answer:
                answer.raise_for_status()
                document: dict[str, Any] = await answer.json(content_type=None)
                return document
        except (aiohttp.ClientError, TimeoutError) as error:
            raise Unavailable(f"Envoy admin {self.url}{path} did not answer: {error}") from error

    async def _get_text(self, path: str, params: Mapping[str, str]) -> str:
        try:
            async with self._session.get(
                f"{self.url}{path}", params=params, timeout=self._timeout
            ) as answer:
                answer.raise_for_status()
                return await answer.text()
        except (aiohttp.ClientError, TimeoutError) as error:
            raise Unavailable(f"Envoy admin {self.url}{path} did not answer: {error}") from error
