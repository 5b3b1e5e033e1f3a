"""The load tester's tasks, over real HTTP, running real processes."""

from __future__ import annotations

import asyncio
import os
import shlex
import sys
from pathlib import Path

import pytest

from tests.fixtures.hooks import post_json

CANARY = {"name": "go-demo-7", "namespace": "test"}

APPEND_THEN_SLEEP = (
    "import sys, time; open(sys.argv[1], 'a').write('run\\n'); time.sleep(float(sys.argv[2]))"
)
"""A command whose every start leaves one line in a file, then runs for a while."""


def python(code: str, *args: str) -> str:
    return shlex.join([sys.executable, "-c", code, *args])


async def task(loadtester: str, **metadata: str) -> tuple[int, str]:
    return await post_json(f"{loadtester}/", {**CANARY, "metadata": metadata})


async def eventually(condition: object, seconds: float = 10.0) -> None:
    """Wait until `condition()` holds, or fail after `seconds`."""
    assert callable(condition)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_cmd_runs_in_the_background_once_per_canary_and_command(
    loadtester: str, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    command = python(APPEND_THEN_SLEEP, str(runs), "1")
    first = await task(loadtester, type="cmd", cmd=command)
    second = await task(loadtester, type="cmd", cmd=command)
    other_canary = await post_json(
        f"{loadtester}/", {"name": "other", "namespace": "test", "metadata": {"cmd": command}}
    )
    assert first == (202, "started for go-demo-7.test")
    assert second == (202, "already running for go-demo-7.test")
    assert other_canary == (202, "started for other.test")  # `cmd` is the default type
    await eventually(lambda: runs.exists() and runs.read_text() == "run\n" * 2)

    await asyncio.sleep(1.5)  # both have finished: the same command may start again
    assert await task(loadtester, type="cmd", cmd=command) == (202, "started for go-demo-7.test")
    await eventually(lambda: runs.read_text() == "run\n" * 3)


async def test_cmd_runs_no_shell(loadtester: str, tmp_path: Path) -> None:
    seen = tmp_path / "argv"
    code = "import sys; open(sys.argv[1], 'w').write(repr(sys.argv[2:]))"
    status, _ = await task(loadtester, cmd=python(code, str(seen)) + " $HOME * ';' 'a b'")
    assert status == 202
    await eventually(lambda: seen.exists() and seen.read_text() != "")
    assert seen.read_text() == repr(["$HOME", "*", ";", "a b"])


async def test_cmd_is_killed_at_its_timeout(loadtester: str, tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    code = "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(60)"
    status, _ = await task(loadtester, cmd=python(code, str(pid_file)), timeout="500ms")
    assert status == 202
    await eventually(lambda: pid_file.exists() and pid_file.read_text() != "")
    pid = int(pid_file.read_text())
    await eventually(lambda: not alive(pid))


async def test_bash_waits_and_answers_with_the_output(
    loadtester: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert await task(loadtester, type="bash", cmd="echo all good; echo on stderr >&2") == (
        200,
        "all good\non stderr\n",
    )
    assert await task(loadtester, type="bash", cmd="echo 2 tests failed; exit 1") == (
        500,
        "exit code 1: 2 tests failed\n",
    )
    [failed] = [r for r in caplog.records if r.getMessage().startswith("task failed")]
    assert (failed.canary, failed.namespace) == ("go-demo-7", "test")  # type: ignore[attr-defined]
    assert "exitCode=1" in failed.getMessage()
    assert 'output="2 tests failed\\n"' in failed.getMessage()


async def test_bash_is_killed_at_its_timeout_with_what_it_started(
    loadtester: str, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    command = f"sleep 60 & echo $! > {pid_file}; echo started; wait"
    status, text = await task(loadtester, type="bash", cmd=command, timeout="1s")
    assert status == 500
    assert text.startswith("killed at its timeout, after 1.")
    assert text.endswith(": started\n")
    await eventually(lambda: not alive(int(pid_file.read_text())))


async def test_requests_it_cannot_serve_are_refused_saying_why(loadtester: str) -> None:
    assert await task(loadtester, type="helm", cmd="helm test") == (
        400,
        "unknown task type 'helm'; valid types: cmd, bash, load",
    )
    assert await task(loadtester, type="cmd") == (
        400,
        "cmd not found in metadata: set metadata.cmd",
    )
    assert await task(loadtester, cmd="no-such-program --now") == (
        400,
        "cannot start 'no-such-program': No such file or directory",
    )
    assert await task(loadtester, type="load", url="http://x.test/", rps="fast") == (
        400,
        "metadata.rps must be a number of requests per second, got 'fast'",
    )
    assert await post_json(f"{loadtester}/", CANARY) == (
        400,
        "metadata not found in payload: set metadata.type and its fields",
    )
