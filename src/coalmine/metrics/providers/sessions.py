"""HTTP sessions to the metrics servers, kept for a runtime's life: one per server address.

A new `aiohttp.ClientSession` for every query costs the event loop about 1.8 ms (a
connection pool, a TCP connection, an SSL context, a resolver call; cProfile of the
operator at 100 canaries, BENCHMARKS.md), twice a progressing tick at a thousand
canaries. The operator (`kube.runtime.wiring`) and `coalmine up` (`local.runtime`) make one
`HttpSessions`, give it to their Prometheus providers, and close it when they stop;
the one-shot commands (`coalmine query`, `doctor`, `history`) pass none and open a
session per call, which they need not close.

A session holds connections to one address, not credentials: what may differ between
two queries to the same server goes on each request (the timeout, the credentials and
headers of a MetricTemplate, TLS verification), so a template whose Secret changed sends
the new credentials from its next query on, and a rotation does not leave an old session
behind. No cookies are kept (`DummyCookieJar`): two templates may ask one server with
different credentials, and a cookie set for one must not be sent for the other.
"""

from __future__ import annotations

import aiohttp

from coalmine.errors import Unavailable

__all__ = ["HttpSessions"]


class HttpSessions:
    """aiohttp sessions by metrics server address, opened on first use, closed together."""

    def __init__(self) -> None:
        self._sessions: dict[str, aiohttp.ClientSession] = {}
        self._closed = False

    def session(self, address: str) -> aiohttp.ClientSession:
        """The session for `address` (opened now if it is the first query there).

        Raises Unavailable once closed: a query still running while the runtime stops."""
        if self._closed:
            raise Unavailable(f"no query to {address}: the metrics sessions are closed")
        session = self._sessions.get(address)
        if session is None or session.closed:
            session = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
            self._sessions[address] = session
        return session

    @property
    def open(self) -> int:
        """Sessions open now (for tests and figures)."""
        return sum(1 for session in self._sessions.values() if not session.closed)

    async def close(self) -> None:
        """Close every session (their connections); later queries raise Unavailable."""
        self._closed = True
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()
