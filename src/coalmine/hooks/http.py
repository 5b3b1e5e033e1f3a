"""The Hooks port over HTTP: POST Flagger's payload, judge the answer by its status.

As in Flagger, an answer with status 202 or lower passes and anything else fails with
the response body as the reason; a timeout or a connection error fails and says so.
Retries follow go-retryablehttp, which Flagger uses: a connection error, a timeout,
429 and 5xx (except 501) are tried again, after a short back-off that doubles; any
other answer is final (a closed gate's 403 is an answer, not an accident).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from coalmine import __version__
from coalmine.api.canary import Canary, CanaryWebhook, Phase
from coalmine.api.redaction import redact_url
from coalmine.engine.observations import HookResult
from coalmine.hooks.payload import encode, webhook_payload

__all__ = [
    "LOADTESTER_NAMES",
    "HttpHooks",
    "RetryPolicy",
    "TokenFor",
    "loadtester_token",
    "shorten",
]

log = logging.getLogger(__name__)

MAX_MESSAGE = 500
"""Characters of a response body kept in a HookResult: enough for an error, short enough
for a Kubernetes event (1 KiB)."""

_HEADERS = {"Content-Type": "application/json", "User-Agent": f"coalmine/{__version__}"}


TokenFor = Callable[[str], str | None]
"""A webhook URL to the bearer token it must carry (None: no Authorization header)."""

LOADTESTER_NAMES = ("loadtester", "flagger-loadtester")
"""Service names a load tester answers to in a cluster, as in Flagger's examples."""


def loadtester_token(token: str | None, names: tuple[str, ...] = LOADTESTER_NAMES) -> TokenFor:
    """Send `token` only to URLs whose host is a load tester's Service (`loadtester.ns`,
    `flagger-loadtester.ns.svc.cluster.local`): never to any other webhook."""

    def token_for(url: str) -> str | None:
        host = urlsplit(url).hostname or ""
        return token if token and host.split(".")[0] in names else None

    return token_for


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait before each retry of one call."""

    first_backoff: float = 0.5
    """Seconds before the first retry; each later one waits twice as long."""
    max_backoff: float = 5.0
    """No single wait is longer than this."""

    def backoff(self, attempt: int) -> float:
        return float(min(self.first_backoff * 2**attempt, self.max_backoff))


class _Retryable(Exception):
    """An attempt that may go better next time; carries the reason if it is the last."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class HttpHooks:
    """Calls webhooks over HTTP with one shared connection pool. Call `close()` when done.

    The session is created on first use, inside the running event loop.
    """

    def __init__(
        self, *, retry: RetryPolicy | None = None, token_for: TokenFor | None = None
    ) -> None:
        self.retry = retry or RetryPolicy()
        self.token_for = token_for
        """The bearer token to send to a URL (the load tester's), or None to send none."""
        self._session: aiohttp.ClientSession | None = None

    async def call(self, canary: Canary, webhook: CanaryWebhook, phase: Phase) -> HookResult:
        """Never raises for a failed call: the failure is a HookResult with the reason."""
        payload = webhook_payload(canary, webhook, phase)
        return await self.post(
            webhook.url,
            payload,
            timeout_seconds=webhook.timeout_seconds,
            retries=webhook.retries,
            verify_tls=not webhook.disable_tls,
        )

    async def post(
        self,
        url: str,
        payload: dict[str, Any],
        *,
        timeout_seconds: float,
        retries: int = 0,
        verify_tls: bool = True,
    ) -> HookResult:
        """POST a payload; retries as the module docstring says. Never raises.

        `verify_tls=False` is the webhook's `disableTLS`: an https server's certificate
        is not checked (a self-signed load tester), as in Flagger.
        """
        body = encode(payload)
        for attempt in range(retries + 1):
            try:
                return await self._attempt(url, body, timeout_seconds, verify_tls)
            except _Retryable as failure:
                if attempt == retries:
                    suffix = f" (after {retries + 1} attempts)" if retries else ""
                    return HookResult(False, failure.message + suffix)
                shown = redact_url(url)  # webhook URLs may carry tokens; logs get the host only
                log.info("webhook %s: %s; retrying", shown, failure.message.replace(url, shown))
                await asyncio.sleep(self.retry.backoff(attempt))
        raise AssertionError("unreachable: the last attempt always returns")

    async def _attempt(
        self, url: str, body: bytes, seconds: float, verify_tls: bool = True
    ) -> HookResult:
        session = self._open()
        headers = dict(_HEADERS)
        token = self.token_for(url) if self.token_for is not None else None
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            async with session.post(
                url,
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=seconds),
                ssl=verify_tls,  # False: no certificate check (disableTLS)
            ) as response:
                text = await response.text(errors="replace")
        except TimeoutError:
            raise _Retryable(f"no answer from {url} within {seconds:g}s (timeout)") from None
        except aiohttp.InvalidURL:
            return HookResult(False, f"invalid webhook URL {url!r}")
        except (aiohttp.ClientError, OSError) as error:
            raise _Retryable(f"cannot reach {url}: {_describe(error)}") from None
        return _judge(response.status, text)

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> HttpHooks:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


def _judge(status: int, text: str) -> HookResult:
    """Flagger's rule: `r.StatusCode > 202` fails, with the body as the error."""
    described = f"HTTP {status}: {shorten(text)}" if text.strip() else f"HTTP {status}"
    if status <= 202:
        return HookResult(True, described)
    if status == 429 or (status >= 500 and status != 501):
        raise _Retryable(described)
    return HookResult(False, described)


def _describe(error: BaseException) -> str:
    return str(error) or type(error).__name__


def shorten(text: str, limit: int = MAX_MESSAGE) -> str:
    """One line, at most `limit` characters, keeping the start and the end (where a
    command's error usually is)."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    head = limit // 3
    tail = limit - head - 3
    return f"{line[:head]} … {line[-tail:]}"
