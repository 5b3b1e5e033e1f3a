"""Requests and watches over aiohttp with kr8s's credentials: TLS as the kubeconfig says,
a rotated token read again, watch lines with a size limit."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from coalmine.errors import Unavailable
from coalmine.kube.adapters.client import KubeClient
from coalmine.kube.adapters.resources import SERVICES
from coalmine.kube.adapters.transport import (
    TRANSPORT_ERRORS,
    ApiTransport,
    LineTooLong,
    api_path,
    lines,
)
from coalmine.kube.runtime.connection import close, connect
from coalmine.kube.runtime.settings import ClusterSettings
from tests.kube_emulator import KubeEmulator
from tests.kube_emulator.tls import ServerTLS

NAMESPACE = "default"


def service(name: str, **annotations: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80}]},
    }


@pytest.fixture
async def tls_emulator(tmp_path: Path) -> AsyncIterator[KubeEmulator]:
    emulator = KubeEmulator(tls=ServerTLS.made_in(tmp_path))
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()
    assert not emulator.internal_errors


async def client_for(kubeconfig: Path) -> KubeClient:
    return await connect(ClusterSettings(kubeconfig=kubeconfig, request_timeout=5.0))


async def test_requests_and_watches_trust_the_kubeconfigs_ca(
    tls_emulator: KubeEmulator, tmp_path: Path
) -> None:
    assert tls_emulator.url.startswith("https://")
    client = await client_for(tls_emulator.write_kubeconfig(tmp_path / "kubeconfig"))
    try:
        created = await client.create(SERVICES, NAMESPACE, service("web"))
        assert await client.get(SERVICES, "web", NAMESPACE) == created

        path = api_path("v1", NAMESPACE, "services")
        params = {"watch": "true", "resourceVersion": "0", "timeoutSeconds": "5"}
        async with client.streams.watch(path, params, connect=5, read=10) as response:
            assert response.status == 200
            first = await anext(aiter(lines(response)))
        assert json.loads(first)["object"]["metadata"]["name"] == "web"
    finally:
        await close(client)


async def test_a_server_the_kubeconfig_does_not_vouch_for_is_refused(
    tls_emulator: KubeEmulator, tmp_path: Path
) -> None:
    """Without the CA, the emulator's certificate is one nobody vouches for: connecting
    fails (kr8s asks the version), and so does any request of the transport."""
    untrusting = tls_emulator.kubeconfig(NAMESPACE)
    untrusting["clusters"][0]["cluster"].pop("certificate-authority-data")
    path = tmp_path / "untrusting"
    path.write_text(json.dumps(untrusting))
    with pytest.raises(Unavailable, match="certificate verify failed"):
        await client_for(path)

    client = await client_for(tls_emulator.write_kubeconfig(tmp_path / "kubeconfig"))
    try:
        client.api.auth.server_ca_file = None  # the system's CAs only, from now on
        untrusted = ApiTransport(client.api.auth)
        try:
            with pytest.raises(TRANSPORT_ERRORS, match="certificate verify failed"):
                await untrusted.request(
                    "POST",
                    api_path("v1", NAMESPACE, "services"),
                    within=5,
                    content=json.dumps(service("web")).encode(),
                )
        finally:
            await untrusted.close()
    finally:
        await close(client)
    assert tls_emulator.objects("v1", "services", NAMESPACE) == []


async def test_a_rotated_token_is_read_again_after_a_401(
    kube_emulator: KubeEmulator, tmp_path: Path
) -> None:
    """A long-running operator outlives its token (a service account's is rotated): the
    API's 401 makes the client read the credentials again and send the request once more."""
    kubeconfig = kube_emulator.write_kubeconfig(tmp_path / "kubeconfig")
    client = await client_for(kubeconfig)
    try:
        await client.create(SERVICES, NAMESPACE, service("before"))
        kube_emulator.token = "rotated-token"
        kube_emulator.write_kubeconfig(kubeconfig)

        await asyncio.gather(  # several refused at once: the credentials are read once
            *(client.create(SERVICES, NAMESPACE, service(f"after-{n}")) for n in range(3))
        )
        path = api_path("v1", NAMESPACE, "services")
        params = {"watch": "true", "resourceVersion": "0", "timeoutSeconds": "5"}
        kube_emulator.token = "rotated-again"
        kube_emulator.write_kubeconfig(kubeconfig)
        async with client.streams.watch(path, params, connect=5, read=10) as response:
            assert response.status == 200
    finally:
        await close(client)
    names = {s["metadata"]["name"] for s in kube_emulator.objects("v1", "services", NAMESPACE)}
    assert names == {"before", "after-0", "after-1", "after-2"}
    refused = [r for r in kube_emulator.requests if r.status == 401]
    assert len(refused) == 4  # three creates sent with the old token, and the watch


async def test_a_watch_line_over_the_limit_is_refused(
    kube_emulator: KubeEmulator, tmp_path: Path
) -> None:
    """A watch event is read whole before it is decoded: its size is bounded, so a hostile
    or broken server cannot make the operator buffer without end."""
    client = await client_for(kube_emulator.write_kubeconfig(tmp_path / "kubeconfig"))
    try:
        await client.create(SERVICES, NAMESPACE, service("a-small"))
        await client.create(SERVICES, NAMESPACE, service("b-large", note="x" * 200_000))
        path = api_path("v1", NAMESPACE, "services")
        params = {"watch": "true", "resourceVersion": "0", "timeoutSeconds": "5"}
        read: list[str] = []

        async def read_all() -> None:
            async for line in lines(response, limit=100_000):
                read.append(json.loads(line)["object"]["metadata"]["name"])

        async with client.streams.watch(path, params, connect=5, read=10) as response:
            with pytest.raises(LineTooLong, match="over 100000 bytes"):
                await read_all()
        assert read == ["a-small"]
    finally:
        await close(client)


async def test_requests_made_while_the_credentials_are_read_again_go_to_the_server(
    kube_emulator: KubeEmulator, tmp_path: Path
) -> None:
    """kopf's login asks kr8s to read the credentials again, and kr8s empties its
    `server` while it reads them: a request sent meanwhile went to a URL without a host
    (a replica's first Lease request, at 5,000 canaries)."""
    client = await client_for(kube_emulator.write_kubeconfig(tmp_path / "kubeconfig"))
    try:
        await client.create(SERVICES, NAMESPACE, service("web"))
        for _ in range(5):
            read_again = asyncio.ensure_future(client.api.auth.reauthenticate())
            await asyncio.sleep(0)  # it has begun, and waits for the kubeconfig
            assert await client.get(SERVICES, "web", NAMESPACE, fresh=True) is not None
            await read_again
    finally:
        await close(client)


async def test_a_closed_client_opens_no_connection_again(
    kube_emulator: KubeEmulator, tmp_path: Path
) -> None:
    """A watch or a request still running when the operator closes its client fails,
    rather than opening a connection that nothing would close."""
    client = await client_for(kube_emulator.write_kubeconfig(tmp_path / "kubeconfig"))
    await client.create(SERVICES, NAMESPACE, service("web"))
    await close(client)

    with pytest.raises(Unavailable, match="the client was closed"):
        await client.get(SERVICES, "web", NAMESPACE)
