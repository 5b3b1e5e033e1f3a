"""Reading the webhook payload that Flagger and coalmine send to the load tester."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from coalmine.api.parsing import ParseError, load_json

__all__ = ["BadRequest", "Forbidden", "HookPayload", "read_payload"]


class BadRequest(Exception):
    """The request cannot be served as sent; the message says what to fix (HTTP 400)."""


class Forbidden(BadRequest):
    """The load tester will not do this as started; the message says how to allow it (403)."""


@dataclass(frozen=True)
class HookPayload:
    name: str
    namespace: str
    phase: str = ""
    checksum: str = ""
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def canary(self) -> str:
        """name.namespace: the key of the canary's gates and tasks, as in Flagger."""
        return f"{self.name}.{self.namespace}"


async def read_payload(request: web.Request) -> HookPayload:
    try:
        body = load_json(await request.read() or b"null")
    except ParseError as error:
        raise BadRequest(str(error)) from None
    if not isinstance(body, dict):
        raise BadRequest('the body must be a JSON object like {"name": ..., "namespace": ...}')
    name, namespace = body.get("name"), body.get("namespace")
    if not (isinstance(name, str) and name and isinstance(namespace, str) and namespace):
        raise BadRequest("the payload needs the canary's name and namespace (non-empty strings)")
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise BadRequest("metadata must map strings to strings")
    return HookPayload(
        name=name,
        namespace=namespace,
        phase=str(body.get("phase") or ""),
        checksum=str(body.get("checksum") or ""),
        metadata=metadata,
    )
