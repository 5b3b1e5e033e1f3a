"""One replica's life: restarts with back-off after exits, restarts after liveness failures."""

from __future__ import annotations

import itertools
import re
import sys
from datetime import datetime, timedelta

from coalmine.local.processes import LocalDeployments, ReplicaPhase, ReplicaStatus
from tests.local.processes.conftest import deployment, eventually


def the_replica(runtime: LocalDeployments) -> ReplicaStatus:
    [replica] = runtime.status("default", "web").replica_details
    return replica


async def test_a_process_that_exits_is_restarted_with_growing_delays(
    runtime: LocalDeployments,
) -> None:
    crash = [sys.executable, "-c", "print('boom', flush=True); raise SystemExit(3)"]
    await runtime.apply(deployment(command=crash, ports=[], readiness={}))
    phases: set[ReplicaPhase] = set()

    def restarted_three_times() -> bool:
        replica = the_replica(runtime)
        phases.add(replica.phase)
        return replica.restarts >= 3

    await eventually(restarted_three_times, "3 restarts")
    replica = the_replica(runtime)
    assert replica.last_exit == "exited with code 3"
    assert ReplicaPhase.BACK_OFF in phases

    log = (runtime.state_dir / "logs" / "default" / "web" / f"{replica.id}.log").read_text()
    assert log.count("boom") >= 3
    assert re.findall(r"restarting in ([\d.]+)s", log)[:3] == ["0.2", "0.4", "0.8"]
    starts = re.findall(r"--- (\S+) coalmine: started pid", log)
    moments = [datetime.fromisoformat(stamp) for stamp in starts]
    gaps = [later - earlier for earlier, later in itertools.pairwise(moments)]
    for gap, delay in zip(gaps, [0.2, 0.4, 0.8], strict=False):
        assert gap >= timedelta(seconds=delay)


async def test_a_command_that_cannot_start_is_retried_and_says_why(
    runtime: LocalDeployments,
) -> None:
    missing = ["coalmine-test-no-such-command"]
    await runtime.apply(deployment(command=missing, ports=[], readiness={}))
    await eventually(lambda: the_replica(runtime).restarts >= 1, "a retry")
    replica = the_replica(runtime)
    assert replica.last_exit.startswith("could not start 'coalmine-test-no-such-command'")
    assert "No such file or directory" in replica.last_exit
    assert runtime.status("default", "web").available == 0


STARTUP = {"httpGet": {"path": "/healthz", "port": "http"}, "failureThreshold": 600}
"""Up to 600 probes (60 s at the tests' 0.1 s period) for the workload to listen: under
load a Python process takes seconds to start, and a liveness probe of a process not yet
listening fails (connection refused), so without it liveness killed every new process
before it ever served, and the replica was never ready."""


async def test_failing_liveness_restarts_the_process(runtime: LocalDeployments) -> None:
    live = {"httpGet": {"path": "/live", "port": "http"}, "failureThreshold": 2}
    manifest = deployment(env={"LIVE_SECONDS": "0.5"}, liveness=live, startup=STARTUP)
    await runtime.apply(manifest)
    await eventually(lambda: the_replica(runtime).ready, "ready", within=60)
    first_pid = the_replica(runtime).pid

    await eventually(lambda: the_replica(runtime).restarts >= 1, "a restart")
    replica = the_replica(runtime)
    # The first kill's reason, from the log: the new process may already have failed its
    # own liveness probes and changed last_exit.
    log = (runtime.state_dir / "logs" / "default" / "web" / f"{replica.id}.log").read_text()
    first = next(line for line in log.splitlines() if "liveness probe failed" in line)
    assert "liveness probe failed: GET http://127.0.0.1:" in first
    assert "/live: HTTP 500; killing pid" in first
    assert "killed by SIGTERM" in log

    def ready_again() -> bool:
        replica = the_replica(runtime)
        return replica.ready and replica.pid not in (None, first_pid)

    await eventually(ready_again, "ready again in a new process", within=60)


def replica_log(runtime: LocalDeployments) -> str:
    """The replica's log (coalmine's lines and the process's output); "" before it starts."""
    replica = the_replica(runtime)
    path = runtime.state_dir / "logs" / "default" / "web" / f"{replica.id}.log"
    return path.read_text() if path.exists() else ""


async def test_until_the_startup_probe_passes_neither_readiness_nor_liveness_is_probed(
    runtime: LocalDeployments,
) -> None:
    """/healthz answers 500 (UNHEALTHY) to the startup probe, which may fail 600 times:
    the process serves, and /live, which one failed probe would count against, is never
    asked (the workload logs every request it gets)."""
    live = {"httpGet": {"path": "/live", "port": "http"}, "failureThreshold": 1}
    startup = {"httpGet": {"path": "/healthz", "port": "http"}, "failureThreshold": 600}
    await runtime.apply(deployment(env={"UNHEALTHY": "1"}, liveness=live, startup=startup))

    asked = '"GET /healthz HTTP/1.1" 500'
    await eventually(lambda: replica_log(runtime).count(asked) >= 3, "3 startup probes", 60)

    assert "GET /live" not in replica_log(runtime)
    replica = the_replica(runtime)
    assert (replica.ready, replica.restarts) == (False, 0)


async def test_a_process_that_fails_its_startup_probe_is_restarted(
    runtime: LocalDeployments,
) -> None:
    """As after a liveness failure. The reason is the last failure: HTTP 500, or, when the
    process was slow to start, that nothing listened yet."""
    startup = {"httpGet": {"path": "/healthz", "port": "http"}, "failureThreshold": 2}
    await runtime.apply(deployment(env={"UNHEALTHY": "1"}, startup=startup))

    await eventually(lambda: the_replica(runtime).restarts >= 1, "a restart", within=60)
    log = replica_log(runtime)
    first = next(line for line in log.splitlines() if "probe failed" in line)
    assert "startup probe failed: GET http://127.0.0.1:" in first
    assert "/healthz: " in first and "; killing pid" in first
    assert the_replica(runtime).ready is False
