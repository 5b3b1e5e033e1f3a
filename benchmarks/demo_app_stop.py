"""How long the demo service takes to exit after SIGTERM, with and without `exit_now`.

Each trial starts the process, sends it a few requests on a kept-alive connection (as
Envoy holds them), sends SIGTERM and times until the process is gone. `coalmine demo-app`
(what local-mode replicas run) ends with `coalmine.demo.server.exit_now`; the other one
runs the same command with `exit_now` made a no-op, so the interpreter tears itself down
as it did before.

    .venv/bin/python -m benchmarks.demo_app_stop [trials]
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import statistics
import sys
import time

import aiohttp

TEARDOWN = (
    "import sys; import coalmine.demo.server as server; "
    "server.exit_now = lambda code=0: None; "
    "from coalmine.cli.main import run; sys.argv = ['coalmine', 'demo-app']; run()"
)
"""`coalmine demo-app` as it was: the same command with `exit_now` a no-op."""
COMMANDS = {
    "coalmine demo-app (exit_now)": [shutil.which("coalmine") or "coalmine", "demo-app"],
    "the same, then the interpreter's teardown": [sys.executable, "-c", TEARDOWN],
}


async def one_stop(command: list[str]) -> float:
    env = {**os.environ, "PORT": "0", "VERSION": "0.0.1", "PYTHONUNBUFFERED": "1"}
    process = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    url = (await process.stdout.readline()).decode().split()[-1]
    async with aiohttp.ClientSession() as session:
        for _ in range(5):
            async with session.get(f"{url}/demo/hello") as response:
                await response.read()
        began = time.monotonic()
        process.send_signal(signal.SIGTERM)
        await process.wait()
        return time.monotonic() - began


async def main(trials: int) -> None:
    print(f"SIGTERM to exit, median of {trials} trials, the two kinds alternating")
    seconds: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(trials):
        for name, command in COMMANDS.items():
            seconds[name].append(await one_stop(command))
    for name, found in seconds.items():
        print(f"{name:42} {statistics.median(found):.3f} s  (max {max(found):.3f} s)")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10))
