"""Playing the workshop scenario on the local runtime, with a readable timeline.

Each release is applied, then followed until the analysis of exactly that revision
ends; a verdict left over from the previous release never counts.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from coalmine.api.canary import Phase
from coalmine.api.workloads import Deployment, pod_template_hash
from coalmine.demo.scenario import NAMESPACE, RELEASES, Release, load_seconds, manifests
from coalmine.local.runtime import LocalRuntime
from coalmine.local.store import CheckRecord

__all__ = ["Verdict", "play"]

Print = Callable[[str], None]
FINAL = (Phase.INITIALIZED, Phase.SUCCEEDED, Phase.FAILED)
QUERY = re.compile(r" \(query: .*\)$")


@dataclass(frozen=True)
class Verdict:
    release: Release
    phase: Phase | None
    seconds: float

    @property
    def expected(self) -> bool:
        return self.phase == self.release.verdict


async def play(
    runtime: LocalRuntime, out: Print, *, interval_seconds: int = 5, per_release: float = 240
) -> list[Verdict]:
    """Ship every release in turn; the runtime must be started."""
    timeline = Timeline(runtime, out)
    verdicts = []
    for release in RELEASES:
        out(f"\n== {release.version}: {release.story} (expect {release.verdict})")
        started = time.monotonic()
        await runtime.apply(manifests(release, interval_seconds=interval_seconds), release.version)
        phase = await _verdict(runtime, timeline, release, started + per_release)
        verdicts.append(Verdict(release, phase, time.monotonic() - started))
        mark = "as expected" if phase == release.verdict else f"EXPECTED {release.verdict}"
        out(f"-- {release.version}: {phase} ({mark}) after {time.monotonic() - started:.0f}s")
        if release is not RELEASES[-1] and release.verdict != Phase.INITIALIZED:
            drain = load_seconds(interval_seconds)
            out(f"   (waiting {drain}s for the load sent to {release.version} to end)")
            await asyncio.sleep(drain)
    return verdicts


async def _verdict(
    runtime: LocalRuntime, timeline: Timeline, release: Release, deadline: float
) -> Phase | None:
    revision = _target_revision(runtime)
    while time.monotonic() < deadline:
        timeline.catch_up()
        status = _status(runtime)
        phase = _phase(status)
        if phase in FINAL and status.get("lastAppliedSpec") == revision:
            timeline.catch_up()
            return phase
        await asyncio.sleep(0.5)
    return _phase(_status(runtime))


def _phase(status: dict[str, object]) -> Phase | None:
    phase = status.get("phase")
    return Phase(phase) if isinstance(phase, str) else None


def _status(runtime: LocalRuntime) -> dict[str, object]:
    stored = runtime.store.get("Canary", NAMESPACE, "go-demo-7")
    return dict(stored.status or {}) if stored else {}


def _target_revision(runtime: LocalRuntime) -> str:
    stored = runtime.store.get("Deployment", NAMESPACE, "go-demo-7")
    assert stored is not None
    return pod_template_hash(Deployment.model_validate(stored.manifest).spec.template)


class Timeline:
    """Prints the canary's events and each tick's checks as they happen."""

    def __init__(self, runtime: LocalRuntime, out: Print) -> None:
        self.runtime = runtime
        self.out = out
        self.started = time.monotonic()
        self.last_event = 0
        self.checks_seen = 0

    def catch_up(self) -> None:
        elapsed = time.monotonic() - self.started
        stamp = f"{int(elapsed) // 60:02d}:{int(elapsed) % 60:02d}"
        weight = _status(self.runtime).get("canaryWeight", 0)
        for event in self.runtime.store.events(NAMESPACE, "go-demo-7", after=self.last_event):
            marker = "!" if event.type == "Warning" else " "
            self.out(f"{stamp} {weight:>3}% {marker} {QUERY.sub('', event.message)}")
            self.last_event = event.id
        checks = self.runtime.store.checks(NAMESPACE, "go-demo-7", limit=100000)
        for tick in _by_tick(checks[self.checks_seen :]):
            self.out(f"{stamp} {weight:>3}%   checks: {' | '.join(_check(c) for c in tick)}")
        self.checks_seen = len(checks)


def _by_tick(checks: list[CheckRecord]) -> list[list[CheckRecord]]:
    ticks: dict[object, list[CheckRecord]] = {}
    for check in checks:
        ticks.setdefault(check.time, []).append(check)
    return list(ticks.values())


def _check(check: CheckRecord) -> str:
    limit = f">= {check.min:g}" if check.min is not None else f"<= {check.max:g}"
    value = f"{check.value:.2f}" if check.value is not None else "no data"
    return f"{check.metric} {value} ({limit}) {'ok' if check.passed else 'FAILED'}"
