"""A thin async client: plain dicts in, plain dicts out, coalmine's errors.

The adapters work with objects as the API serves them (dicts), because they patch
only the fields they own and must not drop fields they do not know. kr8s finds the
credentials (kubeconfig, exec plugins, in-cluster service account); the requests go
through `kube.adapters.transport` (aiohttp, a fifth of httpx's CPU a request). This
module adds what the adapters need on top:

- every request has a timeout (`RequestSettings.timeout`);
- a caller cancelled mid-request (a daemon stopped, a tick abandoned) returns at once,
  but its request runs on in the background until answered or timed out: a request
  cancelled at the wrong moment inside an HTTP client can cost a pooled connection for
  good (httpcore did, encode/httpcore#1093, when requests went through kr8s's httpx),
  and a request the server may already have applied is better answered than dropped;
- at most `max_in_flight` requests are in flight at once, below the `connections` kept
  open (past them, connections are opened and closed per request). Lease requests
  (leader election, shards) have `lease_in_flight` slots of their own and never queue
  behind the ticks: a replica that took a shard of hundreds of Canaries queues
  thousands of requests at once, and its Lease renewals behind them went out tens of
  seconds late, so it lost its Leases and the shards went round the replicas (member
  Leases 50 s stale at 2,000 Canaries on three replicas, BENCHMARKS.md);
- answers become coalmine errors that name the object: 404 `NotFound`, 409
  `Conflict`, 410 `Gone`, other 4xx `AdapterError` with the server's message, 5xx,
  timeouts, refused connections and a success whose body is not a JSON object (a
  proxy's page answered 200) `Unavailable`;
- patches say their type (merge patch or JSON patch): strategic merge patch does not
  exist for custom resources, so the adapters use the two that work everywhere;
- with a `reads` cache (`kube.adapters.cache.WatchCache`), `get` answers from memory what the
  cache holds, and the answers to writes go into it (`fresh=True` asks the API anyway).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from coalmine.errors import AdapterError, Conflict, Gone, NotFound, Unavailable
from coalmine.kube.adapters.resources import LEASES, Kind
from coalmine.kube.adapters.transport import (
    TRANSPORT_ERRORS,
    ApiTransport,
    Reply,
    api_path,
    excerpt,
)

__all__ = [
    "JSON_PATCH",
    "MERGE_PATCH",
    "MISS",
    "KubeClient",
    "Obj",
    "ReadCache",
    "RequestSettings",
]

Obj = dict[str, Any]
MISS: Any = object()
"""What a `ReadCache` answers when it cannot say (a kind or namespace it does not hold)."""
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


@dataclass(frozen=True)
class RequestSettings:
    timeout: float = 10.0
    """Seconds one request may take, connecting included."""
    max_in_flight: int = 16
    """Requests in flight at once; more wait their turn (below the connections kept)."""
    lease_in_flight: int = 2
    """Lease requests in flight at once, apart from the others (16 + 2 < 20)."""
    connections: int = 20
    """Connections kept open for requests (watches have their own, one each)."""


class ReadCache(Protocol):
    """Objects kept in memory by a watch (`kube.adapters.cache.WatchCache`)."""

    def lookup(self, kind: Kind, name: str, namespace: str | None) -> Obj | None:
        """The object, None if it does not exist, or MISS if unknown."""
        ...

    def observe(self, kind: Kind, obj: Obj) -> None:
        """A write's answer."""
        ...

    def forget(self, kind: Kind, name: str, namespace: str | None) -> None:
        """A deleted object."""
        ...


class KubeClient:
    """CRUD on any resource type, with the credentials of one kr8s `Api`."""

    def __init__(self, api: Any, settings: RequestSettings | None = None) -> None:
        """`api` is a connected `kr8s.asyncio.Api` (see `kube.runtime.connection.connect`)."""
        self.api = api
        self.settings = settings or RequestSettings()
        self.transport = ApiTransport(api.auth, connections=self.settings.connections)
        """Where the requests go."""
        self.streams = ApiTransport(api.auth, connections=0)
        """Where the read cache's watches go: a connection each, as many as it watches
        (kinds times namespaces), never taken from the requests'."""
        self._in_flight = asyncio.Semaphore(self.settings.max_in_flight)
        self._lease_in_flight = asyncio.Semaphore(self.settings.lease_in_flight)
        self._requests: set[asyncio.Task[Obj]] = set()
        """Requests in flight, each in its own task (see `_call`)."""
        self.reads: ReadCache | None = None
        """Where `get` looks first (set by the controller once its cache runs)."""
        self.api_reads = 0
        """GETs sent to the API (watches excluded), for tests and benchmarks."""
        self.timing: Callable[[Awaitable[Obj]], Awaitable[Obj]] | None = None
        """Wraps every request, its wait for a slot included
        (`kube.runtime.tick_timing.awaiting_api`: a tick's time awaiting the API, set by
        `kube.runtime.wiring`)."""
        self.request_timing: Callable[[float, float], None] | None = None
        """Told of every request: seconds it waited for a slot, then seconds from sending
        it to its whole answer (`kube.runtime.tick_timing.RequestTimer`)."""

    @property
    def default_namespace(self) -> str:
        """The namespace of the kubeconfig context (or the pod's, in a cluster)."""
        return str(self.api.namespace)

    async def get(
        self, kind: Kind, name: str, namespace: str | None, *, fresh: bool = False
    ) -> Obj | None:
        """The object, or None when there is none; from the cache unless `fresh`."""
        if self.reads is not None and not fresh:
            held = self.reads.lookup(kind, name, namespace)
            if held is not MISS:
                return held
        try:
            return await self._call("GET", kind, namespace, name)
        except NotFound:
            return None

    async def list(
        self,
        kind: Kind,
        namespace: str | None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[Obj]:
        answer = await self.collection(
            kind, namespace, label_selector=label_selector, field_selector=field_selector
        )
        return list(answer.get("items") or [])

    async def collection(
        self,
        kind: Kind,
        namespace: str | None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int = 0,
        token: str = "",
    ) -> Obj:
        """The list as the API answers it: `items`, and `metadata.resourceVersion` to
        watch from. With `limit`, one page: `metadata.continue` is the `token` of the next
        (empty on the last)."""
        given = (
            ("labelSelector", label_selector),
            ("fieldSelector", field_selector),
            ("limit", str(limit) if limit else ""),
            ("continue", token),
        )
        params = {key: value for key, value in given if value} or None
        return await self._call("GET", kind, namespace, params=params)

    async def create(self, kind: Kind, namespace: str | None, body: Obj) -> Obj:
        """Create; raises Conflict when an object of that name exists."""
        return self._wrote(kind, await self._call("POST", kind, namespace, body=body))

    async def replace(
        self, kind: Kind, name: str, namespace: str | None, body: Obj, *, subresource: str = ""
    ) -> Obj:
        """PUT the whole object (or its status); Conflict when its resourceVersion is stale."""
        answer = await self._call("PUT", kind, namespace, name, subresource=subresource, body=body)
        return self._wrote(kind, answer)

    async def merge_patch(
        self, kind: Kind, name: str, namespace: str | None, patch: Obj, *, subresource: str = ""
    ) -> Obj:
        """RFC 7386: maps merge, lists are replaced, None removes a key."""
        answer = await self._call(
            "PATCH",
            kind,
            namespace,
            name,
            subresource=subresource,
            body=patch,
            content_type=MERGE_PATCH,
        )
        return self._wrote(kind, answer)

    async def json_patch(
        self, kind: Kind, name: str, namespace: str | None, operations: Sequence[Obj]
    ) -> Obj:
        """RFC 6902: a list of operations, applied all or nothing."""
        answer = await self._call(
            "PATCH", kind, namespace, name, body=list(operations), content_type=JSON_PATCH
        )
        return self._wrote(kind, answer)

    async def delete(self, kind: Kind, name: str, namespace: str | None) -> bool:
        """Delete in the background (dependents by garbage collection); False if it was gone."""
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        try:
            await self._call("DELETE", kind, namespace, name, body=body)
        except NotFound:
            gone = False
        else:
            gone = True
        if self.reads is not None:
            self.reads.forget(kind, name, namespace)
        return gone

    def _wrote(self, kind: Kind, answer: Obj) -> Obj:
        if self.reads is not None:
            self.reads.observe(kind, answer)
        return answer

    async def _call(
        self,
        method: str,
        kind: Kind,
        namespace: str | None,
        name: str = "",
        *,
        subresource: str = "",
        body: Any = None,
        params: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> Obj:
        what = kind.describe(name, namespace) if name else f"{kind.plural} in {namespace or 'all'}"
        rest = "/".join(part for part in (kind.plural, name, subresource) if part)
        request: dict[str, Any] = {"within": self.settings.timeout}
        if body is not None:
            request["content"] = orjson.dumps(body)
            request["content_type"] = content_type
        if params:
            request["params"] = dict(params)
        if method == "GET":
            self.api_reads += 1
        path = api_path(kind.api_version, namespace, rest)
        dispatched = self._dispatch(method, kind, path, what, request)
        return await (dispatched if self.timing is None else self.timing(dispatched))

    async def _dispatch(
        self, method: str, kind: Kind, path: str, what: str, request: dict[str, Any]
    ) -> Obj:
        """Send once a slot is free, and wait for the answer (see `_call`)."""
        slots = self._lease_in_flight if kind == LEASES else self._in_flight
        began = time.perf_counter()
        await slots.acquire()  # released by the request's task
        queued = time.perf_counter() - began
        sent = asyncio.ensure_future(self._send(method, path, what, request, slots, queued))
        self._requests.add(sent)
        sent.add_done_callback(self._done)
        # shield: a cancelled caller leaves the request to end on its own, within its
        # timeout (see the module's docstring)
        try:
            return await asyncio.shield(sent)
        finally:
            # An error's traceback holds this frame, the frame held the task, and the task
            # holds the error: a reference cycle, which kept all a failed request touched
            # (a 409 on a status write: the Canary, read and sent) until the next full
            # garbage collection, minutes apart at a thousand canaries (BENCHMARKS.md).
            del sent

    async def _send(
        self,
        method: str,
        path: str,
        what: str,
        request: dict[str, Any],
        slots: asyncio.Semaphore,
        queued: float,
    ) -> Obj:
        """One request, holding an in-flight slot until it is answered or times out;
        `queued` is how long it waited for that slot (for `request_timing`)."""
        began = time.perf_counter()
        try:
            reply = await self.transport.request(method, path, **request)
        except TRANSPORT_ERRORS as error:  # refused, reset, timed out
            why = f"within {request['within']:g}s " if isinstance(error, TimeoutError) else ""
            raise Unavailable(
                f"{method} {what}: the Kubernetes API did not answer {why}({error!r})"
            ) from error
        finally:
            slots.release()
            if self.request_timing is not None:
                self.request_timing(queued, time.perf_counter() - began)
        return _answer(reply, method, what)

    def _done(self, sent: asyncio.Task[Obj]) -> None:
        self._requests.discard(sent)
        if not sent.cancelled():
            sent.exception()  # retrieved: a caller that was cancelled never reads it

    async def settle(self) -> None:
        """Wait for the requests still in flight (their callers may be gone); each ends
        within its timeout. Call before closing the connections."""
        pending = set(self._requests)
        if pending:
            await asyncio.wait(pending)


def _answer(reply: Reply, method: str, what: str) -> Obj:
    status = reply.status
    if status < 400:
        return _decoded(reply, method, what)
    message = _message(reply)
    if status == 404:
        raise NotFound(f"{what} not found")
    if status == 409:
        raise Conflict(f"{method} {what}: {message}")
    if status == 410:
        raise Gone(f"{method} {what}: {message}")
    if status >= 500 or status == 429:
        raise Unavailable(f"{method} {what}: the Kubernetes API answered {status}: {message}")
    raise AdapterError(f"{method} {what}: the Kubernetes API refused it ({status}): {message}")


def _decoded(reply: Reply, method: str, what: str) -> Obj:
    """A success's body: a JSON object, or `Unavailable` (a proxy's page answered 200)."""
    try:
        answer = reply.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise Unavailable(
            f"{method} {what}: the Kubernetes API answered {reply.status} with a body that"
            f" is not a JSON object ({excerpt(reply.body)}); is a proxy in between?"
        )
    return answer


def _message(reply: Reply) -> str:
    text = reply.body.decode(errors="replace")
    try:
        return str(reply.json().get("message") or text)
    except (ValueError, AttributeError):  # not JSON, or not an object
        return text[:300]
