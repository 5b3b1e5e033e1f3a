"""HTTP handlers for resource URLs: GET/LIST/WATCH, POST, PUT, PATCH, DELETE.

Each handler turns the URL into a `Target`, lets the registry apply the rules, and
answers JSON: 201 on create, 200 otherwise, a `kind: Status` body on refusal (the
middleware in `server.py` renders `ApiError`s).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web

from . import errors, fieldmanager, patching
from .listing import in_version, list_objects, list_text
from .registry import Registry, WriteResult
from .routing import Target, resolve
from .scale import scale_of, write_scale
from .storage import encode
from .watching import WatchOptions, WatchStream


def json_response(body: Any, status: int = 200, warnings: list[str] | None = None) -> web.Response:
    return encoded_response(encode(body), status, warnings)


def encoded_response(
    text: bytes, status: int = 200, warnings: list[str] | None = None
) -> web.Response:
    """A JSON answer already encoded (a stored object's text is encoded once: `Store.text`)."""
    quoted = [w.replace("\\", "\\\\").replace('"', '\\"') for w in warnings or []]
    headers = {"Warning": ", ".join(f'299 - "{w}"' for w in quoted)} if quoted else None
    return web.Response(
        body=text, status=status, content_type="application/json", charset="utf-8", headers=headers
    )


async def _body(request: web.Request) -> Any:
    raw = await request.read()
    if not raw.strip():
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise errors.bad_request(f"the request body is not valid JSON: {error}") from None


def _delete_options(body: Any, query: Mapping[str, str]) -> dict[str, Any]:
    options = dict(body) if isinstance(body, dict) else {}
    if "propagationPolicy" in query:
        options["propagationPolicy"] = query["propagationPolicy"]
    if options.get("propagationPolicy") not in (None, "Foreground", "Background", "Orphan"):
        raise errors.bad_request(f"unsupported propagationPolicy: {options['propagationPolicy']}")
    return options


class ResourceHandlers:
    """The resource half of the API; discovery lives in `discovery.py`."""

    def __init__(self, registry: Registry, watch_options: WatchOptions) -> None:
        self.registry = registry
        self.watch_options = watch_options

    def _target(self, request: web.Request) -> Target:
        info = request.match_info
        return resolve(self.registry.catalog, info.get("group", ""), info["version"], info["tail"])

    async def handle(self, request: web.Request) -> web.StreamResponse:
        target = self._target(request)
        if request.query.get("dryRun"):
            raise errors.bad_request(
                "dryRun is not supported by the coalmine Kubernetes API emulator"
            )
        if request.method == "GET":
            return await self._read(request, target)
        if request.method == "DELETE":
            return self._delete(target, await _body(request), request.query)
        if request.method == "PATCH" and request.content_type == patching.APPLY:
            body = fieldmanager.decode_apply_body(await request.read())
            return self._write(request.method, target, body, request)
        if request.method in ("POST", "PUT", "PATCH"):
            return self._write(request.method, target, await _body(request), request)
        raise errors.method_not_allowed(request.method, target.rt.plural)

    async def _read(self, request: web.Request, target: Target) -> web.StreamResponse:
        query = request.query
        if target.legacy_watch or query.get("watch") in ("true", "1"):
            stream = WatchStream(self.registry.store, target, query, self.watch_options)
            return await stream.serve(request)
        if target.name is None:
            return encoded_response(list_text(self.registry.store, target, query))
        obj = self.registry.get(target.rt, target.namespace, target.name)
        if target.subresource == "scale":
            return json_response(scale_of(obj))
        return self._object_response(target, obj)

    def _write(self, method: str, target: Target, body: Any, request: web.Request) -> web.Response:
        rt, validation = target.rt, request.query.get("fieldValidation", "")
        manager = fieldmanager.manager_of(request.query, request.headers.get("User-Agent", ""))
        if method == "POST":
            if target.name is not None or (rt.namespaced and target.namespace is None):
                raise errors.method_not_allowed("POST", rt.plural)
            result = self.registry.create(rt, target.namespace, body, validation, manager)
            return json_response(result.obj, 201, result.warnings)
        if target.name is None:
            raise errors.method_not_allowed(method, rt.plural)
        content_type = request.content_type
        if target.subresource == "scale":
            scaled = write_scale(self.registry, target, method, body, content_type, manager)
            return json_response(scaled)
        if method == "PUT":
            result = self.registry.replace(
                rt, target.namespace, target.name, body, target.subresource, validation, manager
            )
        else:
            result = self.registry.patch(
                rt,
                target.namespace,
                target.name,
                content_type,
                body,
                target.subresource,
                validation,
                manager,
                force=request.query.get("force") in ("true", "1"),
            )
        status = 201 if result.created else 200
        return self._object_response(target, result.obj, status, result.warnings)

    def _object_response(
        self, target: Target, obj: Any, status: int = 200, warnings: list[str] | None = None
    ) -> web.Response:
        """A stored object as served at the URL's version, from its shared text when it is
        the stored version and served at its own version."""
        if obj.get("apiVersion") != target.rt.api_version:
            return json_response(in_version(obj, target.rt.api_version), status, warnings)
        text = self.registry.store.text(target.rt.storage_key, obj)
        return encoded_response(text, status, warnings)

    def _delete(self, target: Target, body: Any, query: Mapping[str, str]) -> web.Response:
        options = _delete_options(body, query)
        if target.name is None:
            return self._delete_collection(target, options, query)
        result = self.registry.delete(target.rt, target.namespace, target.name, options)
        return json_response(self._deleted_body(target, result))

    def _delete_collection(
        self, target: Target, options: dict[str, Any], query: Mapping[str, str]
    ) -> web.Response:
        listed = list_objects(self.registry.store, target, query)
        deleted = []
        for item in listed["items"]:
            meta = item["metadata"]
            deleted.append(
                self.registry.delete(target.rt, meta.get("namespace"), meta["name"], options).obj
            )
        return json_response({**listed, "items": deleted})

    @staticmethod
    def _deleted_body(target: Target, result: WriteResult) -> dict[str, Any]:
        """A pending deletion answers the object; a finished one a Status, as the real registry."""
        rt = target.rt
        if not result.deleted or rt.storage_key in (("", "pods"), ("", "namespaces")):
            return in_version(result.obj, rt.api_version)
        details: dict[str, Any] = {
            "name": target.name,
            "kind": rt.plural,
            "uid": result.obj["metadata"]["uid"],
        }
        if rt.group:
            details["group"] = rt.group
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": details,
        }
