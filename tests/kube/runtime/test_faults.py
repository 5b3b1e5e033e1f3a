"""The operator under faults: 100 analyses against the API emulator with faults injected.

Two replicas of the controller (each its own client, CanaryDaemons and LeaseElector) run
the real Kubernetes adapters (Deployments, Istio routing, the status subresource, the
Lease) against the emulator, on a fake clock:

- 10 % of API calls fail: 409, 500, answers lost after the write was applied, no answer
  at all (see tests/kube_emulator/faults.py); of the unanswered ones, one in twenty hangs
  until the client's own timeout gives up, the others have their connection closed at
  once (`reset`): to the client both are the same Unavailable with nothing applied
  (tests/kube/adapters/test_client.py), but a hang costs the client's whole timeout in real time;
- the acting replica is killed at a random point of a tick (between two API calls) in
  about one tick in six, and restarts with nothing in memory;
- at analysis 50 the leader dies mid-analysis without releasing its Lease; the other
  replica takes over once the Lease expires.

Each analysis ships a new image that is good or bad (its checks pass or fail). Every
analysis must end with the right verdict; the canary's weight goes through each step
once, in order (none twice, none skipped); the primary gets an image only after the
analysis of that image reached maxWeight, and never a bad one. No tick is wasted: an
analysis needs no more ticks untouched by faults and kills than a fault-free one takes
(how many ticks it takes in all is luck: a tick makes 10 to 19 API calls).

Randomness is seeded: a failure prints the seed, and `COALMINE_FAULTS_SEED=N` draws the
same analyses, fault odds and kill odds again. It does not replay a run call for call: a
kill lands when the test sees the Nth API call go by, polling in real time, so on a
loaded machine the calls made before it, and so the faults each call draws, vary.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from coalmine.api.canary import Phase
from coalmine.engine.ports import Ports
from coalmine.kube.adapters.client import KubeClient, RequestSettings
from coalmine.kube.adapters.disown import Disowner
from coalmine.kube.adapters.events import KubeEvents
from coalmine.kube.adapters.resources import CANARIES
from coalmine.kube.adapters.revert import Reverter
from coalmine.kube.adapters.store import KubeCanaryStore
from coalmine.kube.adapters.workload import KubeWorkload
from coalmine.kube.runtime.connection import close, connect
from coalmine.kube.runtime.daemons import CanaryDaemons, CanaryRef
from coalmine.kube.runtime.leader import LeaseElector
from coalmine.kube.runtime.settings import AnalysisSettings, ClusterSettings, LeaderSettings
from coalmine.routers.istio import IstioRouter
from coalmine.testing import (
    FakeClock,
    FakeHooks,
    FakeMeasurer,
    RecordingNotifier,
    RecordingRecorder,
)
from tests.fixtures.operator import (
    NAMESPACE,
    RolloutController,
    canary,
    create,
    deployment,
    install_crds,
)
from tests.kube_emulator import KubeEmulator

pytestmark = pytest.mark.slow

ANALYSES = 100
TIMEOUT = 0.5
"""The replicas' request timeout, in real seconds."""
FAULT_RATE = 0.10
KILL_RATE = 1 / 6
HANDOVER_AT = 50
FAULT_FREE_TICKS = {True: 8, False: 5}
"""Ticks a good (True) or a bad analysis takes when no fault hits it (measured): as many
ticks untouched by faults, kills and the handover are all it may need under faults."""
MAX_TICKS = 400
"""Only ends an analysis that never ends; the check is FAULT_FREE_TICKS. Under faults, a
tick goes through untouched about one time in five, so the ticks an analysis takes vary
widely (96 measured for one that needed 7 untouched ones)."""
GOOD_STEPS = [20, 40, 60, 0]
BAD_STEPS = [20, 0]
LEASE = LeaderSettings.scaled(enabled=True, lease_duration=15.0)
SETTINGS = AnalysisSettings(min_interval=timedelta(seconds=1))
SEED = int(os.environ.get("COALMINE_FAULTS_SEED", "20261202"))
"""The analyses', kills' and faults' randomness: a failure prints it, and
`COALMINE_FAULTS_SEED=N pytest tests/kube/runtime/test_faults.py` draws the same odds again."""


class Monotonic:
    """The replicas' monotonic clock (leases), moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Replica:
    identity: str
    client: KubeClient
    ports: Ports
    elector: LeaseElector
    daemons: CanaryDaemons
    restarts: int = 0


@dataclass
class Cluster:
    emulator: KubeEmulator
    clock: FakeClock
    monotonic: Monotonic
    measurer: FakeMeasurer
    rollouts: RolloutController
    replicas: dict[str, Replica] = field(default_factory=dict)
    kills: int = 0
    notifier: RecordingNotifier = field(default_factory=RecordingNotifier)
    """What every replica said, across restarts (a sink the replicas never read)."""
    shipped_at: int = 0
    """The number of events said before the analysis under way."""
    trace: list[str] = field(default_factory=list)
    """One line per tick of the analysis under way: who acted, leading or not, killed or
    not, the requests it made and the faults they got."""
    untouched: int = 0
    """Ticks of the analysis under way that no fault, kill or slow answer touched."""

    def start(self, identity: str, client: KubeClient) -> Replica:
        """A replica process starting: ports, loops and elector, nothing remembered."""
        notifier, hooks = self.notifier, FakeHooks()
        workload, router, store = KubeWorkload(client), IstioRouter(client), KubeCanaryStore(client)
        ports = Ports(workload, router, self.measurer, hooks, notifier, RecordingRecorder(), store)
        elector = LeaseElector(
            client, LEASE, identity=identity, namespace=NAMESPACE, monotonic=self.monotonic
        )
        daemons = CanaryDaemons(
            client,
            ports,
            events=KubeEvents(client, instance=identity),
            reverter=Reverter(workload, router, store, notifier),
            disowner=Disowner(client, workload, router, store, notifier),
            settings=SETTINGS,
            leadership=elector,
            clock=self.clock.now,
        )
        previous = self.replicas.get(identity)
        replica = Replica(identity, client, ports, elector, daemons)
        replica.restarts = previous.restarts + 1 if previous else 0
        self.replicas[identity] = replica
        return replica

    def restart(self, replica: Replica) -> Replica:
        return self.start(replica.identity, replica.client)

    async def tick(self, replica: Replica, rng: random.Random) -> None:
        """One tick of `replica`: renew its Lease, advance the canary; maybe killed midway."""
        requests, faults = len(self.emulator.requests), len(self.emulator.faults.log)
        began = time.monotonic()
        self.monotonic.now += 1.0
        await replica.elector._try()  # the renew loop's attempt for this second
        line = f"{replica.identity} leading={replica.elector.leading}"
        ref = CanaryRef.of(CANARIES, self.canary_object())
        task = asyncio.ensure_future(replica.daemons.tick(ref))
        try:
            if rng.random() < KILL_RATE:
                calls = len(self.emulator.requests) + rng.randint(1, 8)
                while not task.done() and len(self.emulator.requests) < calls:  # noqa: ASYNC110
                    await asyncio.sleep(0.001)  # watch the API calls go by, then kill mid-tick
                if not task.done():
                    task.cancel()
                    self.kills += 1
                    line += " killed"
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                    await replica.client.settle()  # the dead process's requests land or not
                    self.restart(replica)
                    return
            await task
        finally:
            made = len(self.emulator.requests) - requests
            got = self.emulator.faults.log[faults:]
            # in time: none of its requests can have hit the client's real-time timeout
            in_time = time.monotonic() - began < TIMEOUT
            untouched = not got and "killed" not in line and in_time
            self.untouched += untouched
            self.trace.append(f"{line} requests={made} faults={got} untouched={untouched}")

    def explain(self) -> str:
        """What a stuck analysis looks like: the target, the weights, the events since it
        was shipped (the last 60)."""
        target = self.emulator.get("apps/v1", "deployments", "podinfo", NAMESPACE) or {}
        said = [event.message for event in self.notifier.events[self.shipped_at :][-60:]]
        leading = [r.identity for r in self.replicas.values() if r.elector.leading]
        return (
            f"target replicas {target.get('spec', {}).get('replicas')} status"
            f" {target.get('status')}\nweight {self.weight()} leading {leading}\n"
            + "\n".join(said)
            + "\nticks:\n"
            + "\n".join(self.trace)
        )

    def canary_object(self) -> dict[str, Any]:
        found = self.emulator.get("coalmine.dev/v1beta1", "canaries", "podinfo", NAMESPACE)
        assert found is not None
        return found

    def weight(self) -> int | None:
        found = self.emulator.get(
            "networking.istio.io/v1beta1", "virtualservices", "podinfo", NAMESPACE
        )
        if found is None:
            return None
        for route in found["spec"]["http"][0]["route"]:
            if route["destination"]["host"] == "podinfo-canary":
                return int(route.get("weight", 0))
        return None

    def image(self, name: str) -> str:
        found = self.emulator.get("apps/v1", "deployments", name, NAMESPACE)
        assert found is not None
        return str(found["spec"]["template"]["spec"]["containers"][0]["image"])

    def ship(self, image: str) -> None:
        """`kubectl set image`, straight into the store (the test's own writes are not faulted)."""
        rt = self.emulator.catalog.lookup("apps", "v1", "deployments")
        assert rt is not None
        target = self.emulator.get("apps/v1", "deployments", "podinfo", NAMESPACE)
        assert target is not None
        containers = target["spec"]["template"]["spec"]["containers"]
        containers[0]["image"] = image
        body = {"spec": {"template": {"spec": {"containers": containers}}}}
        self.emulator.registry.patch(rt, NAMESPACE, "podinfo", "application/merge-patch+json", body)
        self.shipped_at = len(self.notifier.events)
        self.trace, self.untouched = [], 0


async def client_of(emulator: KubeEmulator, tmp_path: Any, name: str) -> KubeClient:
    path = emulator.write_kubeconfig(tmp_path / f"kubeconfig-{name}")
    client = await connect(ClusterSettings(kubeconfig=path, request_timeout=0.5))
    client.settings = RequestSettings(timeout=TIMEOUT)
    return client


def leader(cluster: Cluster) -> Replica | None:
    return next((r for r in cluster.replicas.values() if r.elector.leading), None)


async def analyse(
    cluster: Cluster, rng: random.Random, image: str, good: bool, handover: bool
) -> tuple[list[int], str, list[str]]:
    """Ship `image` and tick until its verdict; the weights seen, the phase, the primary's
    images seen."""
    cluster.measurer.set("request-success-rate", 100.0 if good else 50.0)
    cluster.measurer.set("request-duration", 50.0)
    cluster.ship(image)
    revision_seen, weights, primaries = False, [], []
    for number in range(MAX_TICKS):
        if handover and number == 4:
            await hand_over(cluster)
        acting = leader(cluster) or next(iter(cluster.replicas.values()))
        await cluster.tick(acting, rng)
        cluster.rollouts.settle()
        cluster.clock.advance(1.0)
        weight = cluster.weight()
        started = weights or weight != 0  # the analysis starts at 0: count from the first step
        if revision_seen and weight is not None and started and weights[-1:] != [weight]:
            weights.append(weight)
        primaries.append(cluster.image("podinfo-primary"))
        status = cluster.canary_object().get("status") or {}
        revision_seen = revision_seen or status.get("phase") == "Progressing"
        cluster.trace[-1] += f" -> {status.get('phase')} weight {weight}"
        if revision_seen and status.get("phase") in (Phase.SUCCEEDED, Phase.FAILED):
            return weights, str(status["phase"]), primaries
    raise AssertionError(
        f"seed {SEED}: no verdict on {image} within {MAX_TICKS} ticks: {status}\n"
        f"{cluster.explain()}"
    )


async def someone_leading(cluster: Cluster) -> Replica:
    """The leader; when a fault just cost it the Lease (a renewal timed out), the replicas
    campaign until one holds it, as they would at their next retry."""
    for _ in range(int(LEASE.lease_duration) + 20):
        found = leader(cluster)
        if found is not None:
            return found
        cluster.monotonic.now += 1
        for replica in list(cluster.replicas.values()):
            await replica.elector._try()
    raise AssertionError("no replica took the Lease before the handover")


async def hand_over(cluster: Cluster) -> None:
    """The leader's pod dies without releasing its Lease and is replaced by a new pod (a
    new identity); the other replica takes the Lease over once it expires."""
    old = await someone_leading(cluster)
    other = next(r for r in cluster.replicas.values() if r is not old)
    del cluster.replicas[old.identity]
    cluster.start(f"{old.identity}-replaced", old.client)
    for _ in range(int(LEASE.lease_duration) + 20):
        cluster.monotonic.now += 1
        await other.elector._try()
        if other.elector.leading:
            return
    raise AssertionError("the other replica never took the Lease over")


@pytest.mark.timeout(900)  # 100 analyses in real time: 2.6 minutes on a loaded machine
async def test_every_analysis_ends_right_under_faults_kills_and_a_handover(
    kube_emulator: KubeEmulator, tmp_path: Any
) -> None:
    rng = random.Random(SEED)
    install_crds(kube_emulator)
    create(kube_emulator, deployment())
    create(kube_emulator, canary())
    cluster = Cluster(
        kube_emulator, FakeClock(), Monotonic(), FakeMeasurer(), RolloutController(kube_emulator)
    )
    clients = [await client_of(kube_emulator, tmp_path, name) for name in ("a", "b")]
    try:
        for identity, client in zip(("replica-a", "replica-b"), clients, strict=True):
            cluster.start(identity, client)
        for _ in range(30):  # initialization, without faults
            replica = leader(cluster) or cluster.replicas["replica-a"]
            await cluster.tick(replica, random.Random(0))
            cluster.rollouts.settle()
            cluster.clock.advance(1.0)
            if (cluster.canary_object().get("status") or {}).get("phase") == "Initialized":
                break
        kube_emulator.faults.configure(rate=FAULT_RATE, kinds=FAULTS, seed=SEED, weights=UNANSWERED)
        kube_emulator.faults.hang_s = 1.0
        promoted = cluster.image("podinfo-primary")
        outcomes: list[tuple[bool, str]] = []
        for number in range(ANALYSES):
            good = rng.random() < 0.6
            image = f"ghcr.io/stefanprodan/podinfo:6.{number + 1}.{'0' if good else '9'}"
            weights, phase, primaries = await analyse(
                cluster, rng, image, good, handover=number == HANDOVER_AT
            )
            expected = (GOOD_STEPS, "Succeeded") if good else (BAD_STEPS, "Failed")
            assert (weights, phase) == expected, (SEED, number, image, cluster.explain())
            if good:
                promoted = image
            assert cluster.image("podinfo-primary") == promoted, (SEED, number)
            assert all(p in (primaries[0], image if good else primaries[0]) for p in primaries)
            outcomes.append((good, phase))
            slow = cluster.untouched > FAULT_FREE_TICKS[good]  # an untouched tick did nothing
            assert not slow, (SEED, number, image, cluster.untouched, cluster.explain())
        injected = kube_emulator.faults.injected
        considered = kube_emulator.faults.considered
        assert 0.07 < sum(injected.values()) / considered < 0.13, (injected, considered)
        assert set(injected) == set(FAULTS), injected
        assert cluster.kills >= 50, cluster.kills
        assert {phase for _, phase in outcomes} == {"Succeeded", "Failed"}
    finally:
        kube_emulator.faults.configure(rate=0.0, seed=0)
        for client in clients:
            await close(client)


FAULTS = ("conflict", "error", "lost-answer", "timeout", "reset")
UNANSWERED = {"timeout": 0.05, "reset": 0.95}
"""Together as likely as any other kind: the mix of faults is that of a run in which every
unanswered request hung, but nineteen in twenty hang-ups cost no time (the run still
draws about 60 real hangs, each TIMEOUT of real time)."""
