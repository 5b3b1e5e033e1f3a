"""WATCH streams: newline-delimited JSON events, as the apiserver sends them.

- Without `resourceVersion` (or with "0"), the stream starts with a synthetic ADDED per
  existing object, then follows changes. With `sendInitialEvents=true` the initial
  events end with a BOOKMARK annotated `k8s.io/initial-events-end: "true"`.
- With a `resourceVersion`, it replays every change after it from the history. If that
  version has been compacted away, the stream is one ERROR event whose object is a
  Status with code 410 (reason Expired), as the real server does mid-stream.
- A label/field selector sees an object leave (DELETED) and enter (ADDED) its selection.
- `allowWatchBookmarks=true` gets a BOOKMARK every `bookmark_interval` seconds.
- The stream ends after `timeoutSeconds`, when the client goes, or when the emulator
  stops or the CRD behind the resource is deleted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from . import errors
from .listing import in_version
from .routing import Target
from .selectors import object_filter
from .storage import CLOSE, Obj, Store, StoredEvent, encode

DEFAULT_TIMEOUT = 1800.0
CLIENT_CHECK_INTERVAL = 1.0  # how soon a watch notices that its client has gone


@dataclass
class WatchOptions:
    """Shared by all streams of one emulator; tests may change it while it runs."""

    bookmark_interval: float


def _translate(event: StoredEvent, matches: Callable[[Obj], bool]) -> str | None:
    """The event type this watcher sees, given what its selector matched before and after."""
    now = matches(event.obj)
    before = event.old is not None and matches(event.old)
    if event.type == "DELETED":
        return "DELETED" if before or now else None
    if event.type == "ADDED":
        return "ADDED" if now else None
    if now:
        return "MODIFIED" if before else "ADDED"
    return "DELETED" if before else None


class WatchStream:
    """One open watch: its filter, its position, and the HTTP response it writes to."""

    def __init__(
        self, store: Store, target: Target, query: Mapping[str, str], options: WatchOptions
    ) -> None:
        self.store, self.rt, self.query = store, target.rt, query
        self.matches = object_filter(
            target.namespace,
            query.get("labelSelector"),
            query.get("fieldSelector"),
            self.rt.field_labels,
        )
        if target.legacy_watch and target.name:
            name_match, base = target.name, self.matches
            self.matches = lambda obj: obj["metadata"]["name"] == name_match and base(obj)
        self.bookmarks = query.get("allowWatchBookmarks") in ("true", "1")
        self.bookmark_interval = options.bookmark_interval
        self.timeout = float(query.get("timeoutSeconds") or DEFAULT_TIMEOUT)
        self.position = 0

    def _line(self, event_type: str, obj: Obj) -> bytes:
        return encode({"type": event_type, "object": obj}) + b"\n"

    @staticmethod
    def _object_line(event_type: str, text: bytes) -> bytes:
        """An event line around an object already encoded (the same bytes as `_line`)."""
        return b'{"type":"' + event_type.encode() + b'","object":' + text + b"}\n"

    def _text(self, obj: Obj) -> bytes:
        """`obj` encoded as this watch serves it; the stored version's text is shared."""
        if obj.get("apiVersion") == self.rt.api_version:
            return self.store.text(self.rt.storage_key, obj)
        return encode(in_version(obj, self.rt.api_version))

    def _bookmark(self, annotations: dict[str, str] | None = None) -> bytes:
        meta: dict[str, Any] = {"resourceVersion": str(self.position)}
        if annotations:
            meta["annotations"] = annotations
        return self._line(
            "BOOKMARK", {"kind": self.rt.kind, "apiVersion": self.rt.api_version, "metadata": meta}
        )

    def initial_lines(self) -> Iterable[bytes]:
        """The stream's start: the current state, or the history after `resourceVersion`."""
        since = self.query.get("resourceVersion") or "0"
        if since == "0":
            self.position = self.store.resource_version
            for obj in self.store.items(self.rt.storage_key):
                if self.matches(obj):
                    yield self._object_line("ADDED", self._text(obj))
            if self.bookmarks and self.query.get("sendInitialEvents") == "true":
                yield self._bookmark({"k8s.io/initial-events-end": "true"})
            return
        rv = self._parse_rv(since)
        self.position = rv
        for event in self.store.events_after(self.rt.storage_key, rv):
            yield from self.event_lines(event)

    def _parse_rv(self, since: str) -> int:
        try:
            rv = int(since)
        except ValueError:
            raise errors.bad_request(f'invalid resource version: "{since}"') from None
        if rv < self.store.compacted_rv:
            raise errors.gone(f"too old resource version: {rv} ({self.store.compacted_rv})")
        return rv

    def event_lines(self, event: StoredEvent) -> Iterable[bytes]:
        if event.rv <= self.position:
            return
        self.position = event.rv
        seen_as = _translate(event, self.matches)
        if seen_as is not None:  # encoded once per event, for every watcher of its version
            text = event.texts.get(self.rt.api_version)
            if text is None:
                text = event.texts[self.rt.api_version] = self._text(event.obj)
            yield self._object_line(seen_as, text)

    async def serve(self, request: web.Request) -> web.StreamResponse:
        queue = self.store.subscribe(self.rt.storage_key)  # before reading the state: no gaps
        try:
            try:
                first = list(self.initial_lines())
            except errors.ApiError as error:
                if error.code != 410:
                    raise
                first = [self._line("ERROR", error.status_body())]
                self.timeout = 0.0
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            response.enable_chunked_encoding()
            await response.prepare(request)
            try:
                await response.write(b"".join(first))
                await self._follow(request, response, queue)
            except ConnectionError:
                pass  # the client went away mid-write
            return response
        finally:
            self.store.unsubscribe(self.rt.storage_key, queue)

    async def _follow(
        self,
        request: web.Request,
        response: web.StreamResponse,
        queue: asyncio.Queue[StoredEvent | None],
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        next_bookmark = loop.time() + self.bookmark_interval
        while (remaining := deadline - loop.time()) > 0:
            wait = min(remaining, next_bookmark - loop.time()) if self.bookmarks else remaining
            wait = min(wait, CLIENT_CHECK_INTERVAL)
            try:
                if queue.empty():
                    event = await asyncio.wait_for(queue.get(), timeout=max(wait, 0))
                else:  # (`wait_for(get(), 0)` times out without looking at the queue)
                    event = queue.get_nowait()
            except TimeoutError:
                if request.transport is None or request.transport.is_closing():
                    return  # the client went away
                # A bookmark says "every change up to here was sent": only with none queued
                if self.bookmarks and loop.time() >= next_bookmark and queue.empty():
                    self.position = max(self.position, self.store.resource_version)
                    await response.write(self._bookmark())
                    next_bookmark = loop.time() + self.bookmark_interval
                continue
            lines: list[bytes] = []
            while event is not CLOSE:  # every event queued meanwhile goes in the same write
                lines.extend(self.event_lines(event))
                if queue.empty():
                    break
                event = queue.get_nowait()
            if lines:
                await response.write(b"".join(lines))
            if event is CLOSE:
                return
