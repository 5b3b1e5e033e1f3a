"""`coalmine dashboard` and `coalmine up` as users run them: separate processes, printed
addresses, the local runtime's token, and a cluster through its kubeconfig."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from tests.fixtures.operator import canary, create, deployment, install_crds
from tests.kube_emulator import KubeEmulator

pytestmark = pytest.mark.slow


@asynccontextmanager
async def running(*args: str, until: str) -> AsyncIterator[str]:
    """A coalmine command in its own process; yields its output up to the line `until`."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "coalmine", *args,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    assert process.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(60):
            while not (lines and lines[-1].startswith(until)):
                line = (await process.stdout.readline()).decode()
                assert line, "".join(lines)
                lines.append(line)
        yield "".join(lines)
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 30)


def address(output: str, label: str) -> tuple[str, str]:
    """(base URL, token) of the dashboard address printed after `label`."""
    found = re.search(rf"{label}\s+(http://127\.0\.0\.1:\d+)/\?token=(\S+)", output)
    assert found, output
    return found.group(1), found.group(2)


async def test_up_serves_the_dashboard_and_dashboard_uses_its_token(tmp_path: Path) -> None:
    state = str(tmp_path / "state")
    up = ("up", "--state-dir", state, "--gateway", "127.0.0.1:0")
    async with running(*up, until="Ctrl-C") as banner:
        base, token = address(banner, "dashboard")
        api_token = json.loads((tmp_path / "state" / "api.json").read_text())["token"]
        assert token == api_token
        jar = aiohttp.CookieJar(unsafe=True)  # keep cookies of an IP address
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            async with http.get(f"{base}/?token={token}", allow_redirects=False) as answer:
                assert answer.status == 303 and "HttpOnly" in answer.headers["Set-Cookie"]
            async with http.get(base + "/") as answer:
                assert answer.status == 200 and "No canaries match." in await answer.text()
        dashboard = ("dashboard", "--state-dir", state)
        async with running(*dashboard, until="Ctrl-C") as said:
            assert "the local runtime" in said
            other, same = address(said, "")
            assert other != base and same == token
            headers = {"Authorization": f"Bearer {token}"}
            async with aiohttp.ClientSession(headers=headers) as http, http.get(other) as page:
                assert page.status == 200 and "Canaries" in await page.text()


async def test_dashboard_on_a_cluster_reads_and_acts_with_the_kubeconfig(
    kube_emulator: KubeEmulator, kubeconfig: Path
) -> None:
    install_crds(kube_emulator)
    create(kube_emulator, deployment())
    create(kube_emulator, canary())
    status = {"phase": "Progressing", "canaryWeight": 40, "failedChecks": 1}
    kube_emulator.set_status("coalmine.dev/v1beta1", "canaries", "podinfo", status, "test")
    args = ("dashboard", "--kubeconfig", str(kubeconfig), "--by", "carol")
    async with running(*args, until="Ctrl-C") as said:
        assert "Kubernetes at" in said
        base, token = address(said, "")
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
            async with http.get(base + "/") as page:
                text = await page.text()
            assert re.search(r'<td class="phase">Progressing</td><td class="weight">40%</td>', text)
            async with http.get(base + "/canaries/test/podinfo") as page:
                text = await page.text()
            csrf = re.search(r'data-csrf="([0-9a-f]+)"', text)
            assert csrf and "failed checks 1/2" in text
            headers = {"Origin": base, "X-CSRF-Token": csrf.group(1)}
            async with http.post(base + "/canaries/test/podinfo/resume", headers=headers) as no:
                assert no.status == 409 and "is not paused" in (await no.json())["error"]
            async with http.post(base + "/canaries/test/podinfo/pause", headers=headers) as yes:
                assert yes.status == 200, await yes.text()
                assert "paused by carol (dashboard)" in (await yes.json())["said"]
    stored = kube_emulator.get("coalmine.dev/v1beta1", "canaries", "podinfo", "test")
    assert stored is not None and stored["spec"]["suspend"] is True
    events = kube_emulator.objects("v1", "events", "test")
    assert any("carol (dashboard)" in e.get("message", "") for e in events)
