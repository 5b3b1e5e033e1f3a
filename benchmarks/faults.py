"""Restarts of `coalmine up` must never decide a release: local trials with real Envoy.

Run:  .venv/bin/python -m benchmarks.faults [--restarts 20] [--rate 20] [--burst-rate 1000]

1. Restarts. One real `coalmine up` (a subprocess, real Envoy, the demo's releases as
   local processes, its built-in load tester driving each analysis). The demo's releases
   0.0.2 (good), 0.0.3 (errors), 0.0.4 (slow), 0.0.5 (good) are shipped in turn, and
   `coalmine up` is killed with -9 at a random moment of an analysis and started again
   0.2-1.5 s later, until `--restarts` restarts were tried. Meanwhile a client of our own
   sends `--rate` req/s through the gateway to the path the release is analysed on (so
   that it measures the release like the load tester does, which dies with `up` and
   starts again at the next tick) and counts what fails. The release's own errors (the
   demo app's 500 "ERROR: Something, somewhere, went wrong!" of 0.0.3) are answers, not
   failures; anything else that is not a 2xx is (a refused connection, Envoy's 503 or
   404, a timeout).
2. Load. The same releases, no restarts, under `--burst-rate` req/s (`coalmine load`, in
   its own process) on /version: every request must succeed.

Prints: restarts tried, right verdicts, false rollbacks, bad releases promoted, extra
failed checks (failed checks of good releases), failed client requests during restarts
(sent from the kill until 3 s after the restarted `up` answered) and in all.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from coalmine.api.canary import Phase
from coalmine.demo.scenario import HOST, NAMESPACE, RELEASES, Release, manifests
from coalmine.local.store import Store
from coalmine.metrics.prometheus_server import free_port
from coalmine.testing.up import UpProcess

INTERVAL_S = 2
"""analysis.interval of the trials (the demo's is 5 s; shorter keeps the run short)."""
FINAL = {Phase.SUCCEEDED.value, Phase.FAILED.value}


APP_ERROR = "ERROR: Something, somewhere, went wrong!"
"""How the demo app's own 500 begins (Envoy's 503 and 404 say something else)."""


@dataclass
class Client:
    """Open-loop requests at `rate` per second; each answer with the time it was sent."""

    url: str
    rate: float
    path: str = "/version"
    """Where the requests go; changed as releases are shipped."""
    failures: list[tuple[float, str, str]] = field(default_factory=list)
    """(sent, outcome, path) of every failed request."""
    answers: list[tuple[float, str]] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            tasks: set[asyncio.Task[None]] = set()
            start, n = time.monotonic(), 0
            while not self._stop.is_set():
                n += 1
                await asyncio.sleep(max(0.0, start + n / self.rate - time.monotonic()))
                task = asyncio.create_task(self._one(http))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            await asyncio.gather(*tasks)

    async def _one(self, http: aiohttp.ClientSession) -> None:
        sent = time.monotonic()
        try:
            async with http.get(self.url + self.path, headers={"Host": HOST}) as answer:
                body = await answer.text()
                ok = answer.status < 300 or (answer.status == 500 and body.startswith(APP_ERROR))
                outcome = "ok" if ok else str(answer.status)
        except (aiohttp.ClientError, TimeoutError) as error:
            outcome = type(error).__name__
        self.answers.append((sent, outcome))
        if outcome != "ok":
            self.failures.append((sent, outcome, self.path))

    def stop(self) -> None:
        self._stop.set()

    def failed(self, windows: list[tuple[float, float]] | None = None) -> Counter[str]:
        return Counter(
            outcome
            for sent, outcome in self.answers
            if outcome != "ok" and (windows is None or any(a <= sent <= b for a, b in windows))
        )


@dataclass
class Tally:
    restarts: int = 0
    releases: int = 0
    right: int = 0
    false_rollbacks: int = 0
    bad_promoted: int = 0
    extra_failed_checks: int = 0
    failed_checks_seen: list[str] = field(default_factory=list)
    windows: list[tuple[float, float]] = field(default_factory=list)
    """(kill, restarted + 3 s) of every restart, monotonic."""


async def phase_of(up: UpProcess) -> str | None:
    """The canary's phase, or None while `coalmine up` is down."""
    try:
        found = await asyncio.to_thread(up.client().get, "Canary", NAMESPACE, "go-demo-7")
    except Exception:  # restarting: no answer is an answer
        return None
    return str((found.get("status") or {}).get("phase", ""))


async def until(up: UpProcess, phases: set[str], within: float) -> str:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        phase = await phase_of(up)
        if phase in phases:
            return phase
        await asyncio.sleep(0.2)
    raise SystemExit(f"no {phases} within {within}s; log:\n{up.log_tail()}")


async def ship(up: UpProcess, release: Release) -> None:
    """Apply the release; return once its analysis started."""
    await asyncio.to_thread(up.client().apply, manifests(release, interval_seconds=INTERVAL_S), "")
    await until(up, {Phase.PROGRESSING.value}, 60)


async def restart(up: UpProcess, tally: Tally, rng: random.Random) -> None:
    killed = time.monotonic()
    await up.kill()
    await asyncio.sleep(rng.uniform(0.2, 1.5))
    await up.start()
    tally.restarts += 1
    tally.windows.append((killed, time.monotonic() + 3))


async def release_with_restarts(
    up: UpProcess, client: Client, release: Release, kills: int, tally: Tally, rng: random.Random
) -> None:
    client.path = release.path
    shipped = datetime.now(UTC)
    await ship(up, release)
    good = release.verdict == Phase.SUCCEEDED
    expected_s = (6 if good else 5) * INTERVAL_S
    began = time.monotonic()
    for at in sorted(rng.uniform(0, expected_s) for _ in range(kills)):
        await asyncio.sleep(max(0.0, at - (time.monotonic() - began)))
        if await phase_of(up) in FINAL:
            break
        await restart(up, tally, rng)
    verdict = await until(up, FINAL, 180)
    tally.releases += 1
    tally.right += verdict == release.verdict.value
    tally.false_rollbacks += good and verdict == Phase.FAILED.value
    tally.bad_promoted += not good and verdict == Phase.SUCCEEDED.value
    if good:
        store = Store(up.state_dir / "state.db")
        try:
            failed = [
                c
                for c in store.checks(NAMESPACE, "go-demo-7")
                if c.time >= shipped and not c.passed
            ]
        finally:
            store.close()
        tally.extra_failed_checks += len(failed)
        tally.failed_checks_seen += [f"{release.version}: {c.metric} {c.reason}" for c in failed]
    print(f"  {release.version}: {verdict} (expected {release.verdict.value})", flush=True)


async def restarts_trial(state: Path, restarts: int, rate: float, seed: int) -> None:
    rng = random.Random(seed)
    up = UpProcess(state, gateway_port=free_port())
    await up.start()
    await asyncio.to_thread(up.client().apply, manifests(RELEASES[0]), "")
    await until(up, {Phase.INITIALIZED.value}, 60)
    client = Client(up.gateway_url, rate)
    sending = asyncio.create_task(client.run())
    tally = Tally()
    try:
        cycle = [r for r in RELEASES if r.verdict != Phase.INITIALIZED]
        index = 0
        while tally.restarts < restarts:
            release = cycle[index % len(cycle)]
            index += 1
            kills = min(2, restarts - tally.restarts)
            await release_with_restarts(up, client, release, kills, tally, rng)
    finally:
        client.stop()
        await sending
        print(await envoy_failures(up.state_dir))
        await up.stop()
    during = client.failed(tally.windows)
    print(f"restarts tried:                  {tally.restarts} (kill -9 of coalmine up)")
    print(f"right verdicts:                  {tally.right} of {tally.releases} releases")
    print(f"false rollbacks:                 {tally.false_rollbacks}")
    print(f"bad releases promoted:           {tally.bad_promoted}")
    print(f"extra failed checks:             {tally.extra_failed_checks}")
    for line in tally.failed_checks_seen:
        print(f"    {line}")
    print(
        f"failed client requests during restarts: {sum(during.values())}"
        f" of {sum(1 for s, _ in client.answers if any(a <= s <= b for a, b in tally.windows))}"
        f" {dict(during)}"
    )
    print(
        f"failed client requests in all:   {sum(client.failed().values())}"
        f" of {len(client.answers)} at {rate:g} req/s {dict(client.failed())}"
    )
    print(f"restart to API answering:        {describe(up.start_seconds[1:])}")
    began = client.answers[0][0] if client.answers else 0.0
    for sent, outcome, path in client.failures[:10]:
        restarting = any(a <= sent <= b for a, b in tally.windows)
        when = "during a restart" if restarting else "outside restarts"
        print(f"    failed: {outcome} on {path} at +{sent - began:.1f}s ({when})")


async def load_trial(state: Path, rate: float) -> None:
    """The demo's releases under `coalmine load` (its own process, so that the rate does
    not depend on this one) on /version. Its answers do not carry the releases' faults,
    so they dilute what the analyses see: the verdicts are printed, not judged here."""
    up = UpProcess(state, gateway_port=free_port())
    await up.start()
    try:
        await asyncio.to_thread(up.client().apply, manifests(RELEASES[0]), "")
        await until(up, {Phase.INITIALIZED.value}, 60)
        load = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "coalmine", "load", up.gateway_url + "/version"),
            *("--rps", str(rate), "--duration", "1h", "--header", f"Host:{HOST}"),
            *("--timeout", "10s", "--output", "json"),
            stdout=asyncio.subprocess.PIPE,
        )
        verdicts = []
        for release in RELEASES[1:]:
            await ship(up, release)
            verdicts.append((release.version, await until(up, FINAL, 240)))
        await asyncio.sleep(2)
        load.send_signal(signal.SIGINT)
        output, _ = await load.communicate()
    finally:
        await up.stop()
    result = json.loads(output)
    failed = {k: v for k, v in result["statuses"].items() if k != "200"} | result["errors"]
    print(f"releases at {rate:g} req/s: {', '.join(f'{v} {p}' for v, p in verdicts)}")
    print(
        f"  sent {result['sent']} ({result['rate']:.0f} req/s achieved), dropped"
        f" {result['dropped']}, failed {sum(failed.values())} {failed}"
    )


async def envoy_failures(state: Path) -> str:
    """Envoy's own counts of what can turn into a 503, per cluster (non-zero only)."""
    address = (state / "envoy" / "admin-address").read_text().strip()
    names = (
        "upstream_cx_connect_fail|upstream_cx_destroy_remote_with_active_rq|"
        "upstream_rq_pending_failure_eject|upstream_rq_rx_reset|upstream_rq_503|"
        "upstream_cx_none_healthy|upstream_rq_retry|upstream_rq_timeout"
    )
    url = f"http://{address}/stats?filter=cluster\\.go-demo-7.*\\.({names})$"
    async with aiohttp.ClientSession() as http, http.get(url) as answer:
        text = await answer.text()
    lines = text.splitlines()
    found = [line for line in lines if not line.endswith(": 0")]
    return f"Envoy ({len(lines)} failure counters read): " + ("; ".join(found) or "all zero")


def describe(values: list[float]) -> str:
    if not values:
        return "(none)"
    ordered = sorted(values)
    return f"median {ordered[len(ordered) // 2]:.1f} s, max {ordered[-1]:.1f} s"


async def main(arguments: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="coalmine-faults-") as scratch:
        if arguments.restarts:
            print(f"1. {arguments.restarts} restarts, {arguments.rate:g} req/s", flush=True)
            await restarts_trial(
                Path(scratch) / "restarts", arguments.restarts, arguments.rate, arguments.seed
            )
        if arguments.burst_rate:
            print(f"2. the demo's releases at {arguments.burst_rate:g} req/s", flush=True)
            await load_trial(Path(scratch) / "load", arguments.burst_rate)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--restarts", type=int, default=20, help="kill -9 restarts (0: skip)")
    parser.add_argument("--rate", type=float, default=20, help="client req/s during restarts")
    parser.add_argument(
        "--burst-rate", type=float, default=1000, help="req/s of the load trial (0: skip)"
    )
    parser.add_argument("--seed", type=int, default=10, help="seed of the kill times")
    asyncio.run(main(parser.parse_args()))
