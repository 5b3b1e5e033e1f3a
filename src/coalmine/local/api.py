"""The local control plane's HTTP API: how `coalmine apply/get/...` talk to `coalmine up`.

It listens on 127.0.0.1 on a free port and requires a bearer token. Both are written
to `<state-dir>/api.json` (readable by the owner only), which is how the CLI finds it.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web
from prometheus_client import CollectorRegistry

from coalmine import __version__
from coalmine.api.common import parse_duration
from coalmine.api.parsing import DEFAULT_LIMITS, ParseError, ParseLimits, load_json
from coalmine.engine.requests import Action
from coalmine.errors import CoalmineError, ManifestError, NotFound
from coalmine.local.objects import Applied
from coalmine.local.store import EventRecord, QuarantinedObject, StoredObject
from coalmine.telemetry import add_metrics_route

__all__ = [
    "ApiEndpoint",
    "ControlPlane",
    "bound_port",
    "endpoint_file",
    "make_app",
    "new_token",
    "serve",
]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ControlPlane(Protocol):
    """What the API serves; the local runtime implements it."""

    async def apply(self, text: str, source: str) -> list[Applied]: ...

    async def delete(self, text: str, source: str) -> list[Applied]: ...

    def objects(self, kind: str | None, namespace: str | None) -> list[StoredObject]: ...

    def quarantined(self, kind: str | None, namespace: str | None) -> list[QuarantinedObject]:
        """Stored objects set aside at start-up because they cannot be served."""
        ...

    def get(self, kind: str, namespace: str, name: str) -> StoredObject: ...

    def events(
        self, namespace: str | None, name: str | None, after: int, limit: int
    ) -> list[EventRecord]: ...

    def describe(self) -> dict[str, Any]:
        """Facts about the runtime: gateway address, Envoy admin, state directory."""
        ...

    async def request(self, namespace: str, name: str, action: Action, by: str) -> StoredObject:
        """Ask a canary to promote or abort now (the request annotation)."""
        ...

    async def suspend(self, namespace: str, name: str, suspended: bool, by: str) -> StoredObject:
        """Pause (suspended) or resume a canary."""
        ...

    async def set_env(
        self, namespace: str, name: str, env: dict[str, str], container: str | None
    ) -> str:
        """Set a Deployment's environment variables; answers the new revision."""
        ...

    def revision(self, namespace: str, name: str) -> str:
        """The revision of a Deployment's pod template."""
        ...

    async def canary_metrics(self, namespace: str, name: str, interval: str) -> dict[str, Any]:
        """Built-in metrics of primary and canary, side by side."""
        ...

    def history(self, namespace: str, name: str, ticks: int | None) -> dict[str, Any]:
        """A canary's recorded ticks, checks and samples (`coalmine.history.Records`);
        with `ticks`, only that many of the newest ticks."""
        ...


@dataclass(frozen=True)
class ApiEndpoint:
    url: str
    token: str
    pid: int


def endpoint_file(state_dir: Path) -> Path:
    return state_dir / "api.json"


PUBLIC_PATHS = ("/metrics",)
"""Served without the token, for Prometheus to scrape."""


LIMITS = web.AppKey("limits", ParseLimits)


def make_app(
    plane: ControlPlane,
    token: str,
    registry: CollectorRegistry | None = None,
    limits: ParseLimits = DEFAULT_LIMITS,
) -> web.Application:
    """The API's routes. Bodies above `limits.max_request_bytes` get 413 before they are read."""
    app = web.Application(
        middlewares=[_errors, _auth(token)], client_max_size=limits.max_request_bytes
    )
    app[LIMITS] = limits
    if registry is not None:
        add_metrics_route(app, registry)
    app.router.add_get("/v1/health", _health(plane))
    app.router.add_post("/v1/apply", _apply(plane, delete=False))
    app.router.add_post("/v1/delete", _apply(plane, delete=True))
    app.router.add_get("/v1/objects", _objects(plane))
    app.router.add_get("/v1/objects/{kind}/{namespace}/{name}", _object(plane))
    app.router.add_get("/v1/events", _events(plane))
    app.router.add_get("/v1/metrics/{namespace}/{name}", _metrics(plane))
    app.router.add_get("/v1/history/{namespace}/{name}", _history(plane))
    app.router.add_post("/v1/canaries/{namespace}/{name}/request", _request(plane))
    app.router.add_post("/v1/canaries/{namespace}/{name}/suspend", _suspend(plane))
    app.router.add_get("/v1/deployments/{namespace}/{name}/revision", _revision(plane))
    app.router.add_post("/v1/deployments/{namespace}/{name}/env", _set_env(plane))
    return app


async def serve(
    plane: ControlPlane,
    state_dir: Path,
    host: str = "127.0.0.1",
    registry: CollectorRegistry | None = None,
    *,
    token: str | None = None,
    limits: ParseLimits = DEFAULT_LIMITS,
) -> tuple[web.AppRunner, ApiEndpoint]:
    """Start the API on a free port and publish its address and token in the state directory.

    The token is made here unless given (the runtime gives its load tester the same one)."""
    token = token or new_token()
    runner = web.AppRunner(make_app(plane, token, registry, limits), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    port = bound_port(site)
    endpoint = ApiEndpoint(f"http://{host}:{port}", token, os.getpid())
    path = endpoint_file(state_dir)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(asdict(endpoint)))
    temporary.chmod(0o600)
    temporary.replace(path)
    return runner, endpoint


def new_token() -> str:
    return secrets.token_urlsafe(32)


def bound_port(site: web.TCPSite) -> int:
    """The port the OS chose for a site bound to port 0."""
    server: Any = site._server  # aiohttp keeps the asyncio Server here and offers no getter
    return int(server.sockets[0].getsockname()[1])


def _auth(token: str) -> Any:
    expected = f"Bearer {token}"

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in PUBLIC_PATHS:
            return await handler(request)
        if not secrets.compare_digest(request.headers.get("Authorization", ""), expected):
            return web.json_response({"error": "missing or wrong token"}, status=401)
        return await handler(request)

    return middleware


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Deliberate errors become JSON the client turns back into the same error."""
    try:
        return await handler(request)
    except ManifestError as error:
        problems = [asdict(p) for p in error.problems]
        return web.json_response({"error": str(error), "problems": problems}, status=422)
    except NotFound as error:
        return web.json_response({"error": str(error)}, status=404)
    except CoalmineError as error:
        return web.json_response({"error": str(error)}, status=400)


def _health(plane: ControlPlane) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.json_response({"version": __version__, "pid": os.getpid(), **plane.describe()})

    return handler


def _apply(plane: ControlPlane, *, delete: bool) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        body = await _body(request)
        text, source = body.get("text", ""), body.get("source", "<input>")
        if not isinstance(text, str) or not isinstance(source, str):
            raise CoalmineError('give {"text": "<YAML>", "source": "<file name>"} (strings)')
        done = await (plane.delete if delete else plane.apply)(text, source)
        return web.json_response({"results": [asdict(a) for a in done]})

    return handler


def _objects(plane: ControlPlane) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        kind, namespace = request.query.get("kind"), request.query.get("namespace")
        found = [_object_json(o) for o in plane.objects(kind, namespace)]
        found += [_quarantined_json(q) for q in plane.quarantined(kind, namespace)]
        return web.json_response({"items": found})

    return handler


def _object(plane: ControlPlane) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        info = request.match_info
        kind, namespace, name = info["kind"], info["namespace"], info["name"]
        for quarantined in plane.quarantined(kind, namespace):
            if quarantined.name == name:
                return web.json_response(_quarantined_json(quarantined))
        return web.json_response(_object_json(plane.get(kind, namespace, name)))

    return handler


def _events(plane: ControlPlane) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        query = request.query
        found = plane.events(
            query.get("namespace"),
            query.get("name"),
            _count(query, "after", 0),
            _count(query, "limit", 200),
        )
        return web.json_response({"items": [_event_json(e) for e in found]})

    return handler


def _metrics(plane: ControlPlane) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        info = request.match_info
        interval = request.query.get("interval", "1m")
        try:
            parse_duration(interval)
        except ValueError as error:
            raise CoalmineError(f"interval: {error}") from None
        found = await plane.canary_metrics(info["namespace"], info["name"], interval)
        return web.json_response(found)

    return handler


def _history(plane: ControlPlane) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        info = request.match_info
        ticks = request.query.get("ticks")
        if ticks is not None and not ticks.isdigit():
            raise CoalmineError(f"ticks {ticks!r}: give a number of ticks, for example 100")
        limit = int(ticks) if ticks is not None else None
        return web.json_response(plane.history(info["namespace"], info["name"], limit))

    return handler


ACTIONS: tuple[Action, ...] = ("promote", "abort")


def _request(plane: ControlPlane) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        body, info = await _body(request), request.match_info
        action = body.get("action")
        if action not in ACTIONS:
            raise CoalmineError(f"action {action!r}: use one of {', '.join(ACTIONS)}")
        by = str(body.get("by") or "someone")
        stored = await plane.request(info["namespace"], info["name"], action, by)
        return web.json_response(_object_json(stored))

    return handler


def _suspend(plane: ControlPlane) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        body, info = await _body(request), request.match_info
        suspended = body.get("suspend")
        if not isinstance(suspended, bool):
            raise CoalmineError("suspend: give true (pause) or false (resume)")
        by = str(body.get("by") or "someone")
        stored = await plane.suspend(info["namespace"], info["name"], suspended, by)
        return web.json_response(_object_json(stored))

    return handler


def _revision(plane: ControlPlane) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        info = request.match_info
        return web.json_response({"revision": plane.revision(info["namespace"], info["name"])})

    return handler


def _set_env(plane: ControlPlane) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        body, info = await _body(request), request.match_info
        env = body.get("env")
        if not isinstance(env, dict) or not env:
            raise CoalmineError("env: give at least one NAME: value")
        container = body.get("container")
        revision = await plane.set_env(
            info["namespace"],
            info["name"],
            {str(k): str(v) for k, v in env.items()},
            str(container) if container else None,
        )
        return web.json_response({"revision": revision})

    return handler


async def _body(request: web.Request) -> dict[str, Any]:
    """The JSON object a request carries, read within the parse limits (else 400)."""
    try:
        body = load_json(await request.read(), limits=request.app[LIMITS])
    except ParseError as error:  # the body, not a manifest: 400, not 422
        raise CoalmineError(str(error)) from None
    if not isinstance(body, dict):
        raise CoalmineError("the request body must be a JSON object")
    return body


def _count(query: Mapping[str, str], name: str, default: int) -> int:
    text = query.get(name)
    if text is None:
        return default
    if not text.isdigit():
        raise CoalmineError(f"{name}: give a whole number, got {text!r}")
    return int(text)


def _object_json(stored: StoredObject) -> dict[str, Any]:
    return {
        "kind": stored.kind,
        "namespace": stored.namespace,
        "name": stored.name,
        "manifest": stored.manifest,
        "status": stored.status,
        "owner": stored.owner,
        "generation": stored.generation,
        "updated": stored.updated.isoformat(),
    }


def _quarantined_json(found: QuarantinedObject) -> dict[str, Any]:
    return {
        "kind": found.kind,
        "namespace": found.namespace,
        "name": found.name,
        "manifest": found.manifest,
        "status": None,
        "owner": found.owner,
        "quarantined": {"reason": found.reason, "fix": found.fix, "since": found.time.isoformat()},
    }


def _event_json(event: EventRecord) -> dict[str, Any]:
    return {**asdict(event), "time": event.time.isoformat()}
