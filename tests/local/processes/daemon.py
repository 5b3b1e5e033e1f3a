"""A stand-in daemon for the tests that SIGKILL it: `python -m tests.local.processes.daemon
STATE_DIR CHILD_PID_FILE` runs one replica (which forks a child), prints the running
processes' records as one JSON line once the replica is ready, then waits to be killed."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import asdict
from pathlib import Path

from coalmine.local.processes import LocalDeployments
from tests.local.processes.conftest import FAST, deployment


async def main(state_dir: Path, child_pid_file: str) -> None:
    runtime = LocalDeployments(state_dir, settings=FAST)
    await runtime.start()
    await runtime.apply(deployment(env={"CHILD_PID_FILE": child_pid_file}))
    version = runtime.endpoints_version
    async with asyncio.timeout(20):
        while not runtime.endpoints("default", {"app": "web"}):
            version = await runtime.wait_endpoints_changed(after=version, max_wait=1)
    print(json.dumps([asdict(record) for record in runtime.running_pids()]), flush=True)
    await asyncio.sleep(60)  # the test kills us long before
    await runtime.stop()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2]))
