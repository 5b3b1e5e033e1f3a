"""HTTP to the Kubernetes API over one aiohttp session, with the credentials kr8s found.

kr8s finds the credentials as kubectl does (`kube.runtime.connection`) and re-reads them
on demand (`reauthenticate`: an exec plugin's token, a rotated service-account token).
Its own requests go through httpx, which here costs 1.7 to 3.4 ms of CPU a request where
aiohttp costs 0.2 to 0.5 ms (`benchmarks/kube_transport.py`, BENCHMARKS.md); at 5,000
canaries on three replicas that was the largest part of what the replicas spent while
all progressed. So the operator's requests and watches go through aiohttp (already
kopf's client), configured from what kr8s found: the server's address, its CA (or none,
with insecure-skip-tls-verify), the client certificate, the bearer token, the TLS server
name and the proxy of the kubeconfig.

A 401 re-reads the credentials and sends the request once more, as kr8s does.
A watch's lines are read with a limit on their size (`MAX_LINE_BYTES`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

__all__ = [
    "MAX_LINE_BYTES",
    "TRANSPORT_ERRORS",
    "ApiTransport",
    "LineTooLong",
    "Reply",
    "api_path",
    "excerpt",
    "lines",
]

TRANSPORT_ERRORS = (aiohttp.ClientError, TimeoutError)
"""What a request that got no answer raises: refused, reset, timed out."""

MAX_LINE_BYTES = 16 * 1024 * 1024
"""The longest watch event read (etcd keeps objects up to 1.5 MiB; a watch event holds one)."""


class LineTooLong(aiohttp.ClientPayloadError):
    """A watch sent a line longer than `MAX_LINE_BYTES`."""


@dataclass(frozen=True)
class Reply:
    """An answer, whole: its status and its body."""

    status: int
    body: bytes

    def json(self) -> Any:
        """The body decoded; an empty body is an empty object."""
        return orjson.loads(self.body) if self.body else {}


def excerpt(body: bytes, limit: int = 80) -> str:
    """The start of a body that is not what was expected, quoted for an error message."""
    text = body.decode(errors="replace").strip()
    return repr(text[:limit] + ("…" if len(text) > limit else ""))


def api_path(api_version: str, namespace: str | None, rest: str) -> str:
    """/api/v1/namespaces/NS/REST or /apis/GROUP/VERSION/..., as the API serves a kind."""
    base = "/api" if api_version == "v1" else "/apis"
    scope = f"/namespaces/{namespace}" if namespace else ""
    return f"{base}/{api_version}{scope}/{rest}"


class ApiTransport:
    """Requests and watches on the API server kr8s's `auth` (a `kr8s.KubeAuth`) points to."""

    def __init__(self, auth: Any, *, connections: int = 20) -> None:
        self.auth = auth
        self.connections = connections
        """Connections kept open to the API server, more requests wait for one; 0: no limit."""
        self._session: aiohttp.ClientSession | None = None
        self._opening = asyncio.Lock()
        self._server = ""
        """The API server's address, read with the session's credentials (`_new_session`)."""
        self._routing: dict[str, Any] = {}
        """The kubeconfig's `proxy-url` and `tls-server-name`, as request arguments."""
        self._retired: list[aiohttp.ClientSession] = []
        """Sessions a 401 replaced, closed with this transport (requests may still use them)."""
        self._closed = False

    async def request(
        self,
        method: str,
        path: str,
        *,
        within: float,
        params: Mapping[str, str] | None = None,
        content: bytes | None = None,
        content_type: str = "application/json",
    ) -> Reply:
        """One request and its whole answer; raises one of `TRANSPORT_ERRORS` when none came
        `within` that many seconds (connecting included)."""
        headers = {"Content-Type": content_type} if content is not None else None
        for attempt in range(2):
            session = await self._open()
            async with session.request(
                method,
                self._url(path),
                params=params,
                data=content,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=within),
                **self._routing,
            ) as response:
                reply = Reply(response.status, await response.read())
            if reply.status != 401 or attempt:
                return reply
            await self._reauthenticate(session)
        raise AssertionError("unreachable")  # pragma: no cover

    @asynccontextmanager
    async def watch(
        self, path: str, params: Mapping[str, str], *, connect: float, read: float
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """A streaming GET (a watch): the response, to check its status and read `lines`.
        `read` is the longest silence allowed between two chunks."""
        for attempt in range(2):
            session = await self._open()
            async with session.get(
                self._url(path),
                params=params,
                timeout=aiohttp.ClientTimeout(total=None, connect=connect, sock_read=read),
                **self._routing,
            ) as response:
                if response.status != 401 or attempt:
                    yield response
                    return
            await self._reauthenticate(session)

    async def close(self) -> None:
        """Close the connections (call once no request is in flight); for good: a request
        after this fails (`TRANSPORT_ERRORS`) rather than opening new ones."""
        self._closed = True
        sessions, self._retired = [*self._retired, self._session], []
        self._session = None
        for session in sessions:
            if session is not None:
                await session.close()

    def _url(self, path: str) -> str:
        return self._server + path

    async def _open(self) -> aiohttp.ClientSession:
        session = self._session
        if session is not None and not session.closed:
            return session
        if self._closed:
            raise aiohttp.ClientConnectionError("the client was closed")
        async with self._opening:
            if self._session is None or self._session.closed:
                self._session = await self._new_session()
            return self._session

    async def _new_session(self) -> aiohttp.ClientSession:
        # kr8s's ssl_context() waits for a reauthentication in progress (kopf's login asks
        # for one), which empties `auth.server` while it reads the kubeconfig again: what
        # follows reads the credentials it left, before anything else can run.
        tls = await self.auth.ssl_context()  # True: the system's CAs
        auth = self.auth
        self._server = str(auth.server).rstrip("/")
        self._routing = {}
        if auth.proxy:
            self._routing["proxy"] = auth.proxy
        if auth.tls_server_name:
            self._routing["server_hostname"] = auth.tls_server_name
        headers = {"Accept": "application/json", "User-Agent": "coalmine"}
        if auth.token:
            headers["Authorization"] = f"Bearer {auth.token}"
        connector = aiohttp.TCPConnector(limit=self.connections, ssl=tls)
        return aiohttp.ClientSession(headers=headers, connector=connector)

    async def _reauthenticate(self, refused: aiohttp.ClientSession) -> None:
        """Re-read the credentials after a 401, once for all the requests it refused."""
        async with self._opening:
            if self._session is not refused:
                return  # another request did it meanwhile
            await self.auth.reauthenticate()
            self._session = await self._new_session()
            self._retired.append(refused)


async def lines(
    response: aiohttp.ClientResponse, limit: int = MAX_LINE_BYTES
) -> AsyncIterator[bytes]:
    """The non-empty lines of a streamed body, as they come; raises `LineTooLong` past `limit`."""
    pending = bytearray()
    async for chunk in response.content.iter_any():
        pending += chunk
        start = 0
        while (end := pending.find(b"\n", start)) >= 0:
            line = bytes(pending[start:end]).strip()
            if line:
                yield line
            start = end + 1
        del pending[:start]
        if len(pending) > limit:
            raise LineTooLong(f"a watch event of over {limit} bytes")
    if pending.strip():
        yield bytes(pending).strip()
