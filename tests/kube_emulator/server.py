"""`KubeEmulator`: the aiohttp app on 127.0.0.1, its bearer-token auth and request log.

Start it, write a kubeconfig with `write_kubeconfig`, and point kr8s or kopf at that file.
Requests without the token get 401 like a real server; /version and the health
endpoints answer anonymous requests, as the real server's public-info role allows.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from . import controllers, discovery, errors
from .builtin_rules import builtin_rules
from .builtins import BUILTIN_TYPES
from .catalog import Catalog
from .crds import CRDS, crd_rules
from .faults import Faults
from .gc import GarbageCollector
from .handlers import ResourceHandlers, json_response
from .registry import Registry
from .storage import Obj, Store, clone
from .tls import ServerTLS
from .watching import WatchOptions

logger = logging.getLogger(__name__)
ANONYMOUS_PATHS = ("/version", "/version/", "/healthz", "/readyz", "/livez")
INITIAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
GARBLED = b"<html><body><h1>502 Bad Gateway</h1></body></html>\n"
"""The `garbled` fault's body: a proxy's error page, answered 200."""
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def listen_backlog() -> int:
    """Connections the kernel may queue before they are accepted: what the real apiserver
    asks for, since Go's net.Listen reads the system's somaxconn (golang/go,
    net/sock_linux.go, `maxListenerBacklog`). With aiohttp's default of 128, three
    operators starting together at 5,000 Canaries overflowed the queue (the kernel drops
    the SYNs: `ListenOverflows` in /proc/net/netstat), seen as connect timeouts."""
    try:
        return int(Path("/proc/sys/net/core/somaxconn").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 4096


LISTEN_BACKLOG = listen_backlog()


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the emulator saw it, for tests that check what a client sent."""

    method: str
    path: str
    query: dict[str, str]
    content_type: str
    status: int
    """As answered; the 504 of a `timeout` or `reset` fault may never reach the client."""
    seconds: float = 0.0
    """From the emulator's first look at the request to its answer (a watch: its whole
    stream): the server's share of a client's wait, queueing in its event loop aside."""


def _split_api_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


class KubeEmulator:
    """An in-process Kubernetes API server for tests (see docs/kube-emulator.md)."""

    def __init__(
        self,
        *,
        token: str | None = None,
        history_limit: int = 102_400,
        bookmark_interval: float = 5.0,
        tls: ServerTLS | None = None,
    ) -> None:
        self.token = token or secrets.token_urlsafe(24)
        self.tls = tls
        """Served over HTTPS with this certificate, the kubeconfig trusting its CA."""
        self.store = Store(history_limit=history_limit)
        self.catalog = Catalog(BUILTIN_TYPES)
        rules = builtin_rules()
        rules[CRDS] = crd_rules(self.catalog, self.store)
        self.registry = Registry(self.store, self.catalog, rules)
        self.gc = GarbageCollector(self.registry)
        self.watch_options = WatchOptions(bookmark_interval=bookmark_interval)
        self.requests: list[RecordedRequest] = []
        self.internal_errors: list[str] = []  # emulator bugs (500s); the fixture fails on them
        self.faults = Faults()
        """Injected failures (off until configured; see faults.py)."""
        self.url = ""
        self._runner: web.AppRunner | None = None
        for name in INITIAL_NAMESPACES:
            self.create("v1", "namespaces", {"metadata": {"name": name}})

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware], client_max_size=16 * 1024 * 1024)
        self._add_routes(app)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        tls = self.tls.server_context() if self.tls is not None else None
        site = web.SockSite(self._runner, sock, backlog=LISTEN_BACKLOG, ssl_context=tls)
        await site.start()
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{sock.getsockname()[1]}"
        self.gc.start()

    async def stop(self) -> None:
        self.store.close_watches()
        await self.gc.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> KubeEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def _add_routes(self, app: web.Application) -> None:
        resources = ResourceHandlers(self.registry, self.watch_options)

        def address() -> str:
            return self.url.removeprefix("http://")

        plain: dict[str, Callable[[web.Request], Any]] = {
            "/version": lambda r: discovery.VERSION_INFO,
            "/api": lambda r: discovery.core_versions(address()),
            "/api/{version}": lambda r: discovery.resource_list(
                self.catalog, "", r.match_info["version"]
            ),
            "/apis": lambda r: discovery.group_list(self.catalog),
            "/apis/{group}": lambda r: discovery.group(self.catalog, r.match_info["group"]),
            "/apis/{group}/{version}": lambda r: discovery.resource_list(
                self.catalog, r.match_info["group"], r.match_info["version"]
            ),
        }
        for path, build in plain.items():  # clients such as kr8s add a trailing slash
            app.router.add_get(path, self._document(build))
            app.router.add_get(path + "/", self._document(build))
        for health in ("/healthz", "/readyz", "/livez"):
            app.router.add_get(health, self._ok)
        for pattern in ("/api/{version}/{tail:.+}", "/apis/{group}/{version}/{tail:.+}"):
            app.router.add_route("*", pattern, resources.handle)

    @staticmethod
    def _document(build: Callable[[web.Request], Any]) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            return json_response(build(request))

        return handler

    @staticmethod
    async def _ok(request: web.Request) -> web.StreamResponse:
        return web.Response(text="ok", content_type="text/plain")

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        began = time.perf_counter()
        try:
            if (
                request.path not in ANONYMOUS_PATHS
                and request.headers.get("Authorization") != f"Bearer {self.token}"
            ):
                raise errors.unauthorized()
            response = await self._faulted(request, handler)
        except errors.ApiError as error:
            response = json_response(error.status_body(), error.code)
        except web.HTTPException as error:
            response = json_response(
                errors.ApiError(error.status, error.reason, error.text or "").status_body(),
                error.status,
            )
        except ConnectionResetError:  # the client went away mid-request (a killed process):
            raise  # nobody to answer, and not the emulator's fault; aiohttp drops it quietly
        except Exception as error:
            logger.exception("kube emulator failed on %s %s", request.method, request.path_qs)
            self.internal_errors.append(f"{request.method} {request.path_qs}: {error!r}")
            response = json_response(errors.internal(repr(error)).status_body(), 500)
        self.requests.append(
            RecordedRequest(
                request.method,
                request.path,
                dict(request.query),
                request.content_type,
                response.status,
                time.perf_counter() - began,
            )
        )
        return response

    async def _faulted(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """The handler's answer, or the fault `self.faults` draws for this request."""
        kind = self.faults.pick(request)
        if kind == "conflict":
            raise errors.ApiError(
                409,
                "Conflict",
                "Operation cannot be fulfilled: the object has been modified; please apply"
                " your changes to the latest version and try again",
            )
        if kind == "error":
            raise errors.ApiError(500, "InternalError", "etcdserver: request timed out")
        if kind == "timeout":
            await asyncio.sleep(self.faults.hang_s)
            raise errors.ApiError(504, "Timeout", "the server was unable to return a response")
        if kind == "reset":  # the 504 below is recorded, but cannot reach the client
            self.faults.reset(request)
            raise errors.ApiError(504, "Timeout", "the connection was closed under the request")
        if kind == "garbled":
            return web.Response(status=200, body=GARBLED, content_type="text/html")
        if kind == "drop-watch":
            self.faults.schedule_drop(request)
        response = await handler(request)
        if kind == "lost-answer":
            raise errors.ApiError(504, "Timeout", "the server was unable to return a response")
        return response

    # --- client configuration -------------------------------------------------------------

    def kubeconfig(self, namespace: str = "default") -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "emulator", "cluster": self._cluster()}],
            "users": [{"name": "emulator", "user": {"token": self.token}}],
            "contexts": [
                {
                    "name": "emulator",
                    "context": {"cluster": "emulator", "user": "emulator", "namespace": namespace},
                }
            ],
            "current-context": "emulator",
        }

    def _cluster(self) -> dict[str, str]:
        if self.tls is None:
            return {"server": self.url}
        return {"server": self.url, "certificate-authority-data": self.tls.ca_data}

    def write_kubeconfig(self, path: Path, namespace: str = "default") -> Path:
        path.write_text(yaml.safe_dump(self.kubeconfig(namespace)))
        return path

    # --- direct access for tests --------------------------------------------------------

    def _type(self, api_version: str, plural: str) -> Any:
        group, version = _split_api_version(api_version)
        rt = self.catalog.lookup(group, version, plural)
        if rt is None:
            raise KeyError(f"{plural} in {api_version} is not served")
        return rt

    def get(
        self, api_version: str, plural: str, name: str, namespace: str | None = None
    ) -> Obj | None:
        """A deep copy of one stored object, or None."""
        rt = self._type(api_version, plural)
        obj = self.store.get(
            rt.storage_key, (namespace or "", name) if rt.namespaced else ("", name)
        )
        return clone(obj) if obj is not None else None

    def objects(self, api_version: str, plural: str, namespace: str | None = None) -> list[Obj]:
        rt = self._type(api_version, plural)
        return clone(self.store.items(rt.storage_key, namespace))

    def peek(self, api_version: str, plural: str, namespace: str | None = None) -> list[Obj]:
        """The stored objects themselves, not copies: read them, never change them. For
        controller stand-ins that scan many objects often (`objects` deep-copies each)."""
        rt = self._type(api_version, plural)
        return self.store.items(rt.storage_key, namespace)

    def create(self, api_version: str, plural: str, body: Obj, namespace: str | None = None) -> Obj:
        """Create through the same rules as a POST (for seeding a test's starting state)."""
        rt = self._type(api_version, plural)
        return clone(self.registry.create(rt, namespace, body).obj)

    def set_status(
        self, api_version: str, plural: str, name: str, status: Obj, namespace: str | None = None
    ) -> Obj:
        """Replace an object's status as its controller would (no generation change)."""
        rt = self._type(api_version, plural)
        current = self.registry.get(rt, namespace, name)
        body = {**clone(current), "status": status}
        return clone(self.registry.replace(rt, namespace, name, body, "status").obj)

    def compact(self, resource_version: int | None = None) -> int:
        """Forget watch history up to a resourceVersion (default: all): older watches get 410."""
        return self.store.compact(resource_version)

    @property
    def resource_version(self) -> int:
        return self.store.resource_version

    def collect_garbage(self) -> None:
        """Run garbage collection now instead of waiting for the background task."""
        self.gc.collect()

    def requests_to(self, method: str, path_part: str = "") -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and path_part in r.path]

    # --- controller stand-ins ---------------------------------------------------------------

    def complete_rollout(self, namespace: str, name: str, *, now: datetime | None = None) -> Obj:
        """Set a Deployment's status as the Deployment controller does after a finished rollout."""
        deployment = self.get("apps/v1", "deployments", name, namespace)
        return self._controller_status(deployment, controllers.completed_status(deployment, now))

    def stuck_rollout(self, namespace: str, name: str, *, now: datetime | None = None) -> Obj:
        """Play the real controller for a rollout whose pods never get ready (see
        `controllers.stuck_status`); call it again as time passes, as the controller requeues."""
        deployment = self.get("apps/v1", "deployments", name, namespace)
        return self._controller_status(deployment, controllers.stuck_status(deployment, now))

    def _controller_status(self, deployment: Obj | None, status: Obj) -> Obj:
        """Write the Deployment controller's status, and its Event when it scaled."""
        assert deployment is not None
        meta = deployment["metadata"]
        event = controllers.scaling_event(deployment, status)
        written = self.set_status("apps/v1", "deployments", meta["name"], status, meta["namespace"])
        if event is not None:
            self.create("v1", "events", event, meta["namespace"])
        return written

    def stall_rollout(
        self,
        namespace: str,
        name: str,
        *,
        reason: str = "ProgressDeadlineExceeded",
        last_update_time: datetime | None = None,
        ready_replicas: int = 0,
    ) -> Obj:
        """Set a Deployment's status as the controller does when a rollout is stuck."""
        deployment = self.get("apps/v1", "deployments", name, namespace)
        status = controllers.stalled_status(deployment, reason, last_update_time, ready_replicas)
        return self.set_status("apps/v1", "deployments", name, status, namespace)
