"""Bad input and hostile neighbours against `coalmine up` with a real Envoy.

Nothing Envoy refuses is stored, and a restart is fine; a bad object found in the store
at start-up is quarantined while the rest serves; the API answers bad bodies with 400s
and stays responsive; the built-in load tester runs no command unasked.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from coalmine.api import istio as istio_models
from coalmine.api.canary import CanaryWebhook, Phase
from coalmine.errors import ManifestError
from coalmine.local.runtime import LocalRuntime
from coalmine.local.store import Store
from tests.engine.builders import canary as canary_model
from tests.fixtures.cli import coalmine
from tests.fixtures.hooks import post_json
from tests.fixtures.local import NAMESPACE, demo_manifests, runtime_settings, wait_until

pytestmark = pytest.mark.slow

IN_CLUSTER = {"Host": "go-demo-7.go-demo-7"}
"""Without a Canary no VirtualService serves the gateway host; the Service's own name is
served."""

BAD_REGEX = """
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: bad, namespace: go-demo-7}
spec:
  hosts: [bad.example]
  gateways: [go-demo-7]
  http:
    - match: [{headers: {x-user: {regex: "(["}}}]
      route: [{destination: {host: go-demo-7}}]
"""


async def served(runtime: LocalRuntime, count: int = 20) -> list[int]:
    """Statuses of `count` requests to go-demo-7 (its in-cluster name) through the gateway."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        statuses = []
        for _ in range(count):
            async with http.get(runtime.gateway_url + "/demo/hello", headers=IN_CLUSTER) as answer:
                statuses.append(answer.status)
        return statuses


async def ready(runtime: LocalRuntime) -> None:
    await wait_until(
        lambda: (
            (runtime.processes.workload_state(NAMESPACE, "go-demo-7") or _none()).available >= 1
        ),
        "go-demo-7 ready",
    )

    async def answers() -> bool:
        return (await served(runtime, 1)) == [200]

    deadline = time.monotonic() + 30
    while not await answers():
        assert time.monotonic() < deadline, "the gateway never served go-demo-7"
        await asyncio.sleep(0.1)


class _none:
    available = 0


@pytest.fixture
async def base(tmp_path: Path) -> AsyncIterator[LocalRuntime]:
    """A runtime serving go-demo-7 (no canary)."""
    runtime = LocalRuntime(runtime_settings(tmp_path / "state"))
    await runtime.start()
    try:
        await runtime.apply(demo_manifests("0.0.1", canary=False, replicas=1), "base")
        await ready(runtime)
        yield runtime
    finally:
        await runtime.stop()


def without_re2_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """The models as an older coalmine had them: regexes not checked, so only Envoy can
    refuse them (the case the issue reported)."""
    monkeypatch.setattr(istio_models, "re2_problem", lambda pattern: None)


async def test_a_bad_regex_is_refused_by_the_models_and_not_stored(base: LocalRuntime) -> None:
    with pytest.raises(ManifestError, match="not a valid RE2 regex"):
        await base.apply(BAD_REGEX, "bad.yaml")
    assert base.store.get("VirtualService", NAMESPACE, "bad") is None


async def test_what_envoy_refuses_is_not_stored_and_up_restarts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = runtime_settings(tmp_path / "state")
    first = LocalRuntime(settings)
    await first.start()
    try:
        await first.apply(demo_manifests("0.0.1", canary=False, replicas=1), "base")
        await ready(first)
        with monkeypatch.context() as patched:
            without_re2_check(patched)
            with pytest.raises(ManifestError, match="Envoy rejected it: missing \\]: \\["):
                await first.apply(BAD_REGEX, "bad.yaml")
        assert first.store.get("VirtualService", NAMESPACE, "bad") is None
        result = await coalmine(first, "get", "virtualservices", "-n", NAMESPACE)
        assert "bad" not in result.output
    finally:
        await first.stop()
    second = LocalRuntime(settings)
    await second.start()
    try:
        await ready(second)
        assert set(await served(second)) == {200}
        assert second.store.quarantined() == []
    finally:
        await second.stop()


async def test_a_bad_object_planted_in_the_store_is_quarantined_and_the_rest_serves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = runtime_settings(tmp_path / "state")
    first = LocalRuntime(settings)
    await first.start()
    try:
        await first.apply(demo_manifests("0.0.1", canary=False, replicas=1), "base")
        await ready(first)
    finally:
        await first.stop()
    store = Store(settings.state_dir / "state.db")
    bad = json.loads(json.dumps(_bad_regex_manifest()))
    store.put("VirtualService", NAMESPACE, "bad", bad, owner=None)  # as the old bug stored it
    envoy_only = _bad_regex_manifest(name="envoy-only", regex="[a-z]{1,60}x", host="e.example")
    store.put("VirtualService", NAMESPACE, "envoy-only", envoy_only, owner=None)
    store.close()

    second = LocalRuntime(settings)
    with monkeypatch.context() as patched:
        # the model passes "envoy-only" (its check is off), so Envoy itself must refuse it
        original = istio_models.re2_problem
        patched.setattr(
            istio_models,
            "re2_problem",
            lambda pattern: None if "{1,60}" in pattern else original(pattern),
        )
        await second.start()
    try:
        await ready(second)
        assert set(await served(second)) == {200}
        quarantined = {q.name: q.reason for q in second.store.quarantined()}
        assert set(quarantined) == {"bad", "envoy-only"}
        assert "not a valid RE2 regex" in quarantined["bad"]
        assert "RE2 program size of 124 > max program size of 100" in quarantined["envoy-only"]

        listed = await coalmine(second, "get", "virtualservices", "-n", NAMESPACE)
        assert "bad" in listed.stdout and "QUARANTINED" in listed.stdout
        assert "virtualservice/bad is quarantined (not served)" in listed.output
        described = await coalmine(second, "describe", "virtualservice", "bad", "-n", NAMESPACE)
        assert described.exit_code == 0, described.output
        assert "Quarantined:  yes" in described.stdout
        assert "coalmine apply -f FILE" in described.stdout
        doctor = await coalmine(second, "doctor")
        assert "2 quarantined" in doctor.output
        assert "coalmine delete -f FILE" in doctor.output

        await second.apply(BAD_REGEX.replace('"(["', '"^insider$"'), "fixed.yaml")
        assert [q.name for q in second.store.quarantined()] == ["envoy-only"]
    finally:
        await second.stop()


def _bad_regex_manifest(
    name: str = "bad", regex: str = "([", host: str = "bad.example"
) -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "VirtualService",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "hosts": [host],
            "gateways": ["go-demo-7"],
            "http": [
                {
                    "match": [{"headers": {"x-user": {"regex": regex}}}],
                    "route": [{"destination": {"host": "go-demo-7"}}],
                }
            ],
        },
    }


async def test_the_state_directory_and_database_are_private(base: LocalRuntime) -> None:
    state = base.settings.state_dir
    assert state.stat().st_mode & 0o777 == 0o700
    for part in ("state.db", "state.db-wal"):
        assert (state / part).stat().st_mode & 0o777 == 0o600, part


async def api(
    runtime: LocalRuntime, path: str, body: bytes, content_type: str = "application/json"
) -> tuple[int, str]:
    assert runtime.api is not None
    headers = {"Authorization": f"Bearer {runtime.api.token}", "Content-Type": content_type}
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http,
        http.post(runtime.api.url + path, data=body, headers=headers) as answer,
    ):
        return answer.status, await answer.text()


async def test_wrong_bodies_get_400_with_a_message(base: LocalRuntime) -> None:
    for body, status, message in [
        (b"not json", 400, "not valid JSON"),
        (b"[1, 2]", 400, "must be a JSON object"),
        (b'{"text": 5}', 400, "strings"),
        (b'{"text": "a: 1", "text": "b"}', 400, "duplicate key"),
        (json.dumps({"text": "x: " + "[" * 3000 + "]" * 3000}).encode(), 422, "nested deeper"),
        (json.dumps({"text": "a: 1\na: 2\n"}).encode(), 422, "duplicate key 'a'"),
    ]:
        got, text = await api(base, "/v1/apply", body)
        assert (got, message in text) == (status, True), (body[:40], got, text)
    for path in ("/v1/canaries/go-demo-7/x/request", "/v1/deployments/go-demo-7/x/env"):
        assert (await api(base, path, b"[]"))[0] == 400
    too_large = json.dumps({"text": "x" * (9 * 1024 * 1024)}).encode()
    assert await asyncio.to_thread(post_blocking, base, "/v1/apply", too_large) == 413


def post_blocking(runtime: LocalRuntime, path: str, body: bytes) -> int:
    """POST with urllib, as the CLI does."""
    assert runtime.api is not None
    request = urllib.request.Request(
        runtime.api.url + path,
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {runtime.api.token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


async def test_an_alias_bomb_is_refused_and_the_api_stays_responsive(base: LocalRuntime) -> None:
    bomb = "\n".join(
        ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
        + [
            f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]"
            for p, n in zip("abcdefgh", "bcdefghi", strict=True)
        ]
    )
    big = "\n".join(f"k{i}: [{', '.join(['v'] * 50)}]" for i in range(4000))
    assert base.api is not None
    health_url, token = base.api.url + "/v1/health", base.api.token

    async def health_seconds() -> float:
        started = time.monotonic()
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
            http.get(health_url, headers={"Authorization": f"Bearer {token}"}) as answer,
        ):
            assert answer.status == 200
        return time.monotonic() - started

    status, text = await api(base, "/v1/apply", json.dumps({"text": bomb}).encode())
    assert status == 422 and "alias bomb" in text
    big_apply = asyncio.create_task(api(base, "/v1/apply", json.dumps({"text": big}).encode()))
    await asyncio.sleep(0.2)  # the big document is being parsed, off the event loop
    waits = [await health_seconds() for _ in range(5)]
    status, text = await big_apply
    assert status == 422, text
    assert max(waits) < 2.0, waits


async def test_the_built_in_load_tester_runs_no_command_unasked(
    base: LocalRuntime, tmp_path: Path
) -> None:
    url = base.describe()["loadtester"]
    marker = tmp_path / "ran"
    command = {"type": "bash", "cmd": f"touch {marker}"}
    payload = {"name": "x", "namespace": "y", "metadata": command}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        async with http.post(url + "/", json=payload) as answer:
            assert answer.status == 401  # no token
        headers = {"Authorization": f"Bearer {base.token}"}
        async with http.post(url + "/", json=payload, headers=headers) as answer:
            assert answer.status == 403  # the token, but commands are off
            assert "--enable-commands" in await answer.text()
        browser = {**headers, "Origin": "http://evil.example"}
        async with http.post(url + "/", json=payload, headers=browser) as answer:
            assert answer.status == 403
    assert not marker.exists()


async def test_with_loadtester_commands_a_canary_webhook_runs_bash_with_the_token(
    tmp_path: Path,
) -> None:
    settings = replace(runtime_settings(tmp_path / "state"), loadtester_commands=True)
    runtime = LocalRuntime(settings)
    await runtime.start()
    try:
        marker = tmp_path / "ran"
        webhook = CanaryWebhook.model_validate(
            {
                "name": "acceptance",
                "type": "pre-rollout",
                "url": "http://loadtester.coalmine/",
                "metadata": {"type": "bash", "cmd": f"touch {marker}"},
            }
        )
        target = canary_model()
        result = await runtime._hooks().call(target, webhook, Phase.PROGRESSING)
        assert result.ok, result.message  # resolved to the built-in one, with the API's token
        assert marker.exists()
        stranger = await post_json(
            runtime.describe()["loadtester"] + "/",
            {"name": "x", "namespace": "y", "metadata": {"type": "bash", "cmd": "true"}},
            token=None,
        )
        assert stranger[0] == 401
    finally:
        await runtime.stop()
