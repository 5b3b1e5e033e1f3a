"""The store's shared encodings and JSON clones: one encoding per stored version."""

from __future__ import annotations

import json
import tracemalloc
from typing import Any

import aiohttp

from tests.kube_emulator import KubeEmulator
from tests.kube_emulator.http import MERGE, call, watch_events
from tests.kube_emulator.listing import list_objects, list_text
from tests.kube_emulator.routing import resolve
from tests.kube_emulator.storage import clone, encode

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
STORAGE = ("", "configmaps")


def _config(name: str, value: str = "1") -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {"app": name}}, "data": {"k": value}}


def test_a_stored_version_is_encoded_once_and_a_new_version_afresh(
    kube_emulator: KubeEmulator,
) -> None:
    kube_emulator.create("v1", "configmaps", _config("a"), namespace="default")
    stored = kube_emulator.peek("v1", "configmaps", "default")[0]
    first = kube_emulator.store.text(STORAGE, stored)
    assert kube_emulator.store.text(STORAGE, stored) is first  # the same bytes, not re-encoded
    assert json.loads(first) == stored

    rt = kube_emulator._type("v1", "configmaps")
    kube_emulator.registry.patch(rt, "default", "a", MERGE["Content-Type"], {"data": {"k": "2"}})
    newer = kube_emulator.peek("v1", "configmaps", "default")[0]
    assert json.loads(kube_emulator.store.text(STORAGE, newer))["data"] == {"k": "2"}
    # the old version is no longer stored: still encoded right, and not kept
    assert json.loads(kube_emulator.store.text(STORAGE, stored))["data"] == {"k": "1"}
    assert kube_emulator.store.text(STORAGE, stored) is not kube_emulator.store.text(
        STORAGE, stored
    )


def test_a_text_kept_takes_its_length_in_memory() -> None:
    """The store keeps every current object's text (and its history's events'): 5,000
    canaries' objects must not take several times their text (orjson's own bytes keep
    the buffer they were written in)."""
    objects = [{"metadata": {"name": f"c{n}"}, "data": {"k": "x" * 2_000}} for n in range(200)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        texts = [encode(obj) for obj in objects]
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    length = sum(map(len, texts))
    assert kept < 1.3 * length, f"{kept} bytes kept for {length} bytes of text"


def test_a_list_from_the_shared_texts_is_the_list_encoded(kube_emulator: KubeEmulator) -> None:
    for name in ("b", "a", "c"):
        kube_emulator.create("v1", "configmaps", _config(name), namespace="default")
    target = resolve(kube_emulator.catalog, "", "v1", "namespaces/default/configmaps")
    for query in ({}, {"limit": "2"}, {"labelSelector": "app in (a,c)"}):
        expected = list_objects(kube_emulator.store, target, query)
        assert json.loads(list_text(kube_emulator.store, target, query)) == expected
    assert list_text(kube_emulator.store, target, {}) == encode(
        list_objects(kube_emulator.store, target, {})
    )


def test_clone_is_a_deep_copy_of_json() -> None:
    original = {"a": [{"b": 1}, "c", None, 2.5, True], "d": {"e": {"f": []}}}
    copied = clone(original)
    assert copied == original
    copied["a"][0]["b"] = 2
    copied["d"]["e"]["f"].append(1)
    assert original == {"a": [{"b": 1}, "c", None, 2.5, True], "d": {"e": {"f": []}}}


async def test_watchers_get_the_same_event_lines(kube_http: aiohttp.ClientSession) -> None:
    """Two watches, one event: each watcher's line decodes to the same event."""
    _, created = await call(kube_http, "POST", CONFIGMAPS, _config("a"))
    since = {"watch": "true", "resourceVersion": created["metadata"]["resourceVersion"]}
    await call(kube_http, "PATCH", f"{CONFIGMAPS}/a", {"data": {"k": "2"}}, headers=MERGE)
    first = await watch_events(kube_http, CONFIGMAPS, since, count=1)
    second = await watch_events(kube_http, CONFIGMAPS, since, count=1)
    assert first == second
    assert first[0]["type"] == "MODIFIED" and first[0]["object"]["data"] == {"k": "2"}
