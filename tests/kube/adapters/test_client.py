"""The thin client over kr8s: API answers become coalmine's errors, naming the object."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from pathlib import Path

import pytest

from coalmine.errors import AdapterError, Conflict, NotFound, Unavailable
from coalmine.kube.adapters.client import KubeClient, RequestSettings
from coalmine.kube.adapters.resources import LEASES, SERVICES
from coalmine.kube.runtime.connection import close, connect
from coalmine.kube.runtime.settings import ClusterSettings
from tests.fixtures.operator import NAMESPACE, install_crds
from tests.kube_emulator import KubeEmulator


def service(name: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": "x"}, "ports": [{"port": 80}]},
    }


async def test_answers_become_errors_that_name_the_object(kube_client: KubeClient) -> None:
    assert await kube_client.get(SERVICES, "web", NAMESPACE) is None
    with pytest.raises(NotFound, match="service web in test not found"):
        await kube_client.merge_patch(SERVICES, "web", NAMESPACE, {"spec": {}})
    await kube_client.create(SERVICES, NAMESPACE, service("web"))
    with pytest.raises(Conflict, match="POST service"):
        await kube_client.create(SERVICES, NAMESPACE, service("web"))
    with pytest.raises(AdapterError, match=r"refused it \(422\)"):
        await kube_client.create(SERVICES, NAMESPACE, service("Not_A_Name"))


async def test_patches_say_their_type(kube_client: KubeClient, kube_emulator: KubeEmulator) -> None:
    await kube_client.create(SERVICES, NAMESPACE, service("web"))
    await kube_client.merge_patch(SERVICES, "web", NAMESPACE, {"metadata": {"labels": {"a": "b"}}})
    ops = [{"op": "add", "path": "/metadata/labels/c", "value": "d"}]
    patched = await kube_client.json_patch(SERVICES, "web", NAMESPACE, ops)

    assert patched["metadata"]["labels"] == {"a": "b", "c": "d"}
    kinds = {r.content_type for r in kube_emulator.requests_to("PATCH", "/services/web")}
    assert kinds == {"application/merge-patch+json", "application/json-patch+json"}
    assert await kube_client.delete(SERVICES, "web", NAMESPACE)
    assert not await kube_client.delete(SERVICES, "web", NAMESPACE)


async def test_a_refused_request_leaves_no_garbage_for_the_collector(
    kube_client: KubeClient,
) -> None:
    """A refusal is freed as soon as it is handled, not at the next full collection:
    at a thousand canaries those are minutes apart, and the refused status writes (a
    409 on each Canary's first one) held their Canaries all that time."""
    await kube_client.create(SERVICES, NAMESPACE, service("web"))
    stale = service("web")
    stale["metadata"] = {"name": "web", "resourceVersion": "1"}
    collecting = gc.isenabled()
    gc.disable()  # what is freed now is freed by reference counts alone
    try:
        gc.collect()
        earlier = [o for o in gc.get_objects() if isinstance(o, Conflict)]  # other tests'
        refused = 0
        for _ in range(3):
            try:
                await kube_client.replace(SERVICES, "web", NAMESPACE, stale)
            except Conflict:
                refused += 1
        for _ in range(3):
            await asyncio.sleep(0)  # the event loop lets go of its last callbacks
        left = [
            o
            for o in gc.get_objects()
            if isinstance(o, Conflict) and not any(o is e for e in earlier)
        ]
    finally:
        if collecting:
            gc.enable()
    assert refused == 3
    assert left == []


async def test_an_unreachable_api_is_unavailable(
    kube_client: KubeClient, kube_emulator: KubeEmulator
) -> None:
    await kube_emulator.stop()

    with pytest.raises(Unavailable, match="GET service web in test: the Kubernetes API did not"):
        await kube_client.get(SERVICES, "web", NAMESPACE)


@pytest.mark.parametrize("fault", ["timeout", "reset"])
async def test_a_request_left_unanswered_is_unavailable_and_not_applied(
    kube_client: KubeClient, kube_emulator: KubeEmulator, fault: str
) -> None:
    """Whether the client's own timeout ends the wait or the connection is closed under the
    request, the caller sees the same thing (the operator's fault test relies on it)."""
    kube_client.settings = RequestSettings(timeout=0.2)
    kube_emulator.faults.configure(rate=1.0, kinds=(fault,), seed=1)
    kube_emulator.faults.hang_s = 2.0  # longer than the client waits

    with pytest.raises(Unavailable, match="POST services in test: the Kubernetes API did not"):
        await kube_client.create(SERVICES, NAMESPACE, service("web"))

    kube_emulator.faults.configure(rate=0.0, seed=1)
    assert await kube_client.get(SERVICES, "web", NAMESPACE) is None


async def test_a_success_whose_body_is_not_json_is_unavailable_and_names_the_object(
    kube_client: KubeClient, kube_emulator: KubeEmulator
) -> None:
    """A proxy in front of the API server may answer 200 with its own HTML page: one
    clear error the tick retries, not a decoding traceback."""
    kube_emulator.faults.configure(rate=1.0, kinds=("garbled",), seed=1)

    with pytest.raises(Unavailable, match=r"POST services in test: .* not a JSON object \('<html>"):
        await kube_client.create(SERVICES, NAMESPACE, service("web"))
    with pytest.raises(Unavailable, match=r"GET service web in test: .* not a JSON object"):
        await kube_client.get(SERVICES, "web", NAMESPACE)

    kube_emulator.faults.configure(rate=0.0, seed=1)
    assert await kube_client.get(SERVICES, "web", NAMESPACE) is None, "nothing was applied"


async def test_requests_cancelled_at_any_moment_leave_every_pooled_connection_free(
    kube_emulator: KubeEmulator, kubeconfig: Path
) -> None:
    """A caller cancelled mid-request (a tick abandoned, a daemon stopped) must not cost a
    connection: httpcore 1.0.9 leaked one when the cancellation landed at the wrong moment
    (encode/httpcore#1093), and once they were all gone every request of the process timed
    out waiting for one (the operator fault test's replica whose every request timed out
    for 80 ticks). With two connections, a single leak per moment would leave none."""
    install_crds(kube_emulator)
    client = await connect(ClusterSettings(kubeconfig=kubeconfig))
    client.settings = RequestSettings(timeout=5.0)
    client.transport.connections = 2
    try:
        await client.get(SERVICES, "web", NAMESPACE)
        for iterations in range(60):  # each moment of a request, one loop iteration apart
            request = asyncio.ensure_future(client.get(SERVICES, "web", NAMESPACE))
            for _ in range(iterations):
                await asyncio.sleep(0)
            request.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await request
        await client.settle()

        answers = await asyncio.gather(*(client.get(SERVICES, "web", NAMESPACE) for _ in range(8)))
        assert answers == [None] * 8
    finally:
        await close(client)


async def test_lease_requests_do_not_queue_behind_the_others(kube_client: KubeClient) -> None:
    """A replica that took a shard queues thousands of tick requests at once; its Lease
    renewals behind them went out tens of seconds late and it lost its shards."""
    slots = kube_client.settings.max_in_flight
    for _ in range(slots):  # every slot of the ticks' requests taken
        await kube_client._in_flight.acquire()
    try:
        blocked = asyncio.ensure_future(kube_client.get(SERVICES, "any", NAMESPACE, fresh=True))
        lease = await asyncio.wait_for(
            kube_client.get(LEASES, "coalmine-controller", NAMESPACE, fresh=True), 10
        )
        assert lease is None
        assert not blocked.done(), "a Service read waits for a slot"
    finally:
        for _ in range(slots):
            kube_client._in_flight.release()
    assert await asyncio.wait_for(blocked, 10) is None
