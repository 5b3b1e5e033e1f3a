"""The Prometheus HTTP API client: the `MetricProvider` coalmine queries PromQL through.

`query()` (the port) never raises. Two kinds of failure are told apart:
- Prometheus is down: unreachable, a timeout, an HTTP 5xx or 429, or an answer that is
  not its API's JSON. That is an outage of the source (`Measurement.outage`), which
  holds the analysis: it says nothing about the release.
- Prometheus answered: a PromQL error (bad_data, 4xx) or an answer that is not one
  finite number (no series, NaN) is "no data" (`Measurement.no_data`), a failed check,
  with a reason that names what happened (see `metrics.results` for the answer shapes).
`instant()` and `range()` are the raising layer under it, used by `coalmine query`:
they raise `Unavailable` when Prometheus is down as above, and `QueryError` when it
answers with an error.

`started_at()` asks Prometheus when it started (`/api/v1/status/runtimeinfo`), so that a
check whose window reaches back before that waits instead of reading a partial window.

Given `sessions` (`providers.sessions.HttpSessions`, the operator's and `coalmine up`'s),
every call uses the one session of its server's address, and the runtime closes it;
without (the one-shot commands), each call opens its own session and closes it. Either
way the timeout, credentials, headers and TLS verification are this provider's, sent
with each request.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any

import aiohttp

from coalmine.engine.observations import Measurement
from coalmine.errors import CoalmineError, QueryError, Unavailable
from coalmine.metrics.credentials import Credentials
from coalmine.metrics.providers.base import ProviderSettings
from coalmine.metrics.providers.sessions import HttpSessions
from coalmine.metrics.results import Point, QueryResult, Series, to_measurement

__all__ = ["ONLINE_QUERY", "PrometheusProvider"]

ONLINE_QUERY = "vector(1)"
"""What is_online asks, as Flagger does; the answer must be 1."""
BODY_EXCERPT_CHARS = 200


class PrometheusProvider:
    """Queries one Prometheus server over its HTTP API."""

    def __init__(self, settings: ProviderSettings, *, sessions: HttpSessions | None = None) -> None:
        self.settings = settings
        self.sessions = sessions
        """Sessions kept by the runtime; None: one session per call."""

    @property
    def source(self) -> str:
        """How messages name this server: "Prometheus at http://..."."""
        return f"Prometheus at {self.settings.address}"

    async def query(self, query: str) -> Measurement:
        """One instant query as a measurement; never raises for a failed query."""
        try:
            result = await self.instant(query)
        except Unavailable as error:
            return Measurement.outage(self.source, str(error), query)
        except CoalmineError as error:
            return Measurement.no_data(str(error), query)
        return to_measurement(result, query)

    async def started_at(self) -> datetime | None:
        """When this Prometheus started; None when it does not say (not every server that
        speaks its query API has the runtimeinfo endpoint). Raises Unavailable when down."""
        try:
            data = await self._get("/api/v1/status/runtimeinfo", {})
            return datetime.fromisoformat(str(data["startTime"]))
        except QueryError:
            return None
        except (KeyError, TypeError, ValueError):
            return None

    async def is_online(self) -> bool:
        """True when `vector(1)` answers 1."""
        measurement = await self.query(ONLINE_QUERY)
        return measurement.value == 1

    async def instant(self, query: str, *, at: datetime | None = None) -> QueryResult:
        params = {"query": query}
        if at is not None:
            params["time"] = f"{at.timestamp():.3f}"
        data = await self._get("/api/v1/query", params)
        return _parse_result(data)

    async def range(
        self, query: str, *, start: datetime, end: datetime, step_seconds: float
    ) -> QueryResult:
        """A range query: one series of (time, value) points per matching series."""
        params = {
            "query": query,
            "start": f"{start.timestamp():.3f}",
            "end": f"{end.timestamp():.3f}",
            "step": f"{step_seconds:g}",
        }
        data = await self._get("/api/v1/query_range", params)
        return _parse_result(data)

    async def _get(self, path: str, params: Mapping[str, str]) -> Any:
        settings = self.settings
        url = settings.endpoint(path)
        try:
            async with (
                self._session() as session,
                session.get(
                    url,
                    params=params,
                    headers=_headers(settings),
                    ssl=settings.verify_tls,
                    timeout=aiohttp.ClientTimeout(total=settings.timeout),
                ) as answer,
            ):
                body = await answer.text()
                return _data(answer.status, body, settings.address)
        except TimeoutError:
            raise Unavailable(
                f"Prometheus at {settings.address} did not answer within {settings.timeout:g}s"
            ) from None
        except aiohttp.ClientError as error:
            raise Unavailable(f"cannot reach Prometheus at {settings.address}: {error}") from None

    @contextlib.asynccontextmanager
    async def _session(self) -> AsyncIterator[aiohttp.ClientSession]:
        """The runtime's session for this address, else one for this call only."""
        if self.sessions is not None:
            yield self.sessions.session(self.settings.address)
            return
        async with aiohttp.ClientSession() as session:
            yield session


def _headers(settings: ProviderSettings) -> dict[str, str]:
    headers = dict(settings.headers)
    authorization = _authorization(settings.credentials)
    if authorization:
        headers["Authorization"] = authorization
    return headers


def _authorization(credentials: Credentials | None) -> str | None:
    """Bearer for a token, else Basic (written here: aiohttp 3.14 deprecates BasicAuth)."""
    if credentials is None:
        return None
    if credentials.token:
        return f"Bearer {credentials.token}"
    if credentials.username is None:
        return None
    pair = f"{credentials.username}:{credentials.password or ''}".encode()
    return f"Basic {base64.b64encode(pair).decode('ascii')}"


def _data(status: int, body: str, address: str) -> Any:
    """The `data` of a successful answer; QueryError naming what went wrong otherwise."""
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    down = status >= 500 or status == 429
    if isinstance(document, dict) and document.get("status") == "error":
        kind = document.get("errorType", "unknown")
        message = f"PromQL error ({kind}): {document.get('error', '')}"
        if down:
            raise Unavailable(f"Prometheus at {address} answered HTTP {status}: {message}")
        raise QueryError(message)
    if down:
        raise Unavailable(f"Prometheus at {address} answered HTTP {status}: {_excerpt(body)}")
    if status >= 400:
        raise QueryError(f"Prometheus at {address} answered HTTP {status}: {_excerpt(body)}")
    if not isinstance(document, dict) or "data" not in document:
        raise Unavailable(
            f"Prometheus at {address} answered with something other than its API's JSON: "
            f"{_excerpt(body)}"
        )
    return document["data"]


def _parse_result(data: Any) -> QueryResult:
    try:
        kind, result = data["resultType"], data["result"]
        if kind == "vector":
            return QueryResult("vector", tuple(_series(item, [item["value"]]) for item in result))
        if kind == "matrix":
            return QueryResult("matrix", tuple(_series(item, item["values"]) for item in result))
        if kind == "scalar":
            return QueryResult("scalar", (Series({}, (_point(result),)),))
        if kind == "string":
            return QueryResult("string", text=str(result[1]))
    except (KeyError, TypeError, ValueError, IndexError) as error:
        message = f"cannot read Prometheus's answer: {error!r} in {_excerpt(str(data))}"
        raise Unavailable(message) from None
    raise Unavailable(f"Prometheus answered an unknown result type {kind!r}")


def _series(item: Mapping[str, Any], values: list[Any]) -> Series:
    labels = {str(k): str(v) for k, v in item.get("metric", {}).items()}
    return Series(labels, tuple(_point(value) for value in values))


def _point(pair: list[Any]) -> Point:
    """Prometheus writes [unixtime, "value"]; "NaN", "+Inf" and "-Inf" parse as floats."""
    return Point(float(pair[0]), float(pair[1]))


def _excerpt(body: str) -> str:
    text = re.sub(r"\s+", " ", body).strip()
    if len(text) > BODY_EXCERPT_CHARS:
        return text[:BODY_EXCERPT_CHARS] + "..."
    return text or "(empty body)"
