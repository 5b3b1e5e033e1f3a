"""Posting one JSON body to one webhook: aiohttp, a timeout, an optional proxy.

Every failure (refused connection, timeout, a non-2xx answer, a bad URL) becomes an
AdapterError whose message never contains the webhook URL: those URLs carry tokens,
and the message ends up in logs.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import aiohttp

from coalmine.errors import AdapterError

__all__ = ["DEFAULT_TIMEOUT", "AlertSender", "redact"]

DEFAULT_TIMEOUT = 5.0
"""Seconds one post may take, connection included (Flagger's notifier uses 5 s too)."""


class AlertSender:
    """One HTTP client session for every alert; close it when the program stops.

    `trust_env` makes the session honour HTTP(S)_PROXY and NO_PROXY when a provider
    names no proxy of its own, as Flagger's Go client does.
    """

    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT, trust_env: bool = True) -> None:
        self.timeout = timeout
        self.trust_env = trust_env
        self._session: aiohttp.ClientSession | None = None

    async def post(self, url: str, body: dict[str, Any], *, proxy: str | None = None) -> None:
        """Post `body` as JSON; raises AdapterError unless the answer is 2xx."""
        where = redact(url)
        try:
            async with self._client().post(url, json=body, proxy=_proxy_url(proxy)) as response:
                if response.status // 100 != 2:
                    answer = (await response.text())[:200]
                    raise AdapterError(f"{where} answered HTTP {response.status}: {answer}")
        except TimeoutError:
            raise AdapterError(f"{where} did not answer within {self.timeout:g}s") from None
        except aiohttp.InvalidURL:
            raise AdapterError(f"invalid webhook or proxy URL ({where})") from None
        except aiohttp.ClientError as error:
            raise AdapterError(f"cannot post to {where}: {_reason(error, url)}") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout), trust_env=self.trust_env
            )
        return self._session


def redact(url: str) -> str:
    """`https://hooks.slack.com/services/T0/B0/secret` -> `https://hooks.slack.com/…`."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparsable URL>"
    if not parts.scheme or not parts.hostname:
        return "<unparsable URL>"
    return f"{parts.scheme}://{parts.hostname}{port}/…"


def _proxy_url(proxy: str | None) -> str | None:
    """Flagger's docs write proxies without a scheme (`my-http-proxy.com`): assume http."""
    if not proxy:
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


def _reason(error: aiohttp.ClientError, url: str) -> str:
    text = str(error) or type(error).__name__
    return text.replace(url, redact(url))
