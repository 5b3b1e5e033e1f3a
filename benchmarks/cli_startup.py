"""How long the CLI takes to start: `coalmine --help` and `coalmine status` against a
running `coalmine up` with no canaries, next to `python -c pass` measured in the same run.

    .venv/bin/python -m benchmarks.cli_startup [--repeat 15]

Each command runs `--repeat` times in a fresh process; the medians are printed with
the command, and the ratio to the bare interpreter's start. The goal is under 0.3 s for
both commands on this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

GOAL_SECONDS = 0.3


def coalmine() -> list[str]:
    """The console script next to this interpreter, as a user runs it."""
    script = Path(sys.executable).parent / "coalmine"
    return [str(script)] if script.exists() else [sys.executable, "-m", "coalmine"]


def timed(command: Sequence[str], repeat: int) -> list[float]:
    durations = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        durations.append(time.perf_counter() - start)
    return durations


@contextmanager
def running_up(state: Path) -> Iterator[None]:
    """A `coalmine up` with no canaries, until the block ends."""
    command = [*coalmine(), "up", "--state-dir", str(state), "--gateway", "127.0.0.1:0"]
    up = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not (state / "api.json").exists():
            if up.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("coalmine up did not start")
            time.sleep(0.1)
        json.loads((state / "api.json").read_text())
        yield
    finally:
        up.send_signal(signal.SIGINT)
        try:
            up.wait(timeout=30)
        except subprocess.TimeoutExpired:
            up.kill()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args(argv)
    env_note = f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        with running_up(state):
            commands = {
                "python -c pass": [sys.executable, "-c", "pass"],
                "coalmine --help": [*coalmine(), "--help"],
                "coalmine status (local, no canaries)": [
                    *coalmine(),
                    "status",
                    "--state-dir",
                    str(state),
                ],
            }
            timed(commands["coalmine --help"], 2)  # warm the file cache
            medians = {
                name: statistics.median(timed(command, args.repeat))
                for name, command in commands.items()
            }
    base = medians["python -c pass"]
    print(f"CLI start-up, median of {args.repeat} runs ({env_note})")
    for name, seconds in medians.items():
        ratio = "" if name.startswith("python") else f"  ({seconds / base:.1f}x python -c pass)"
        goal = (
            ""
            if name.startswith("python")
            else ("  under the 0.3 s goal" if seconds < GOAL_SECONDS else "  OVER the 0.3 s goal")
        )
        print(f"  {name:40s} {seconds * 1000:7.1f} ms{ratio}{goal}")


if __name__ == "__main__":
    main()
