"""A stop signal reaches a replica's process group once: the leader must not get two.

Programs commonly shut down gracefully on the first SIGTERM and quit at once on a second
one (the demo app restores the default action while it finishes its requests). When
the leader got the signal twice (through its pidfd, then through its group) and the
machine was loaded enough for the first to be handled before the second arrived, the
replica died with requests in flight: Envoy answered 503 (UC) for them.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from coalmine.local.processes import procfs
from coalmine.local.processes.handle import ProcessHandle
from tests.local.processes.conftest import eventually

GRACEFUL = """
import signal, sys, time
marks, child_marks = sys.argv[1], sys.argv[2]

def shut_down(signum, frame):
    with open(marks, "a") as out:
        out.write("TERM\\n")
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM: quit at once
    time.sleep(0.5)  # requests in flight finish
    sys.exit(0)

signal.signal(signal.SIGTERM, shut_down)
if len(sys.argv) > 3:  # a member of the same group, counting what it gets
    import subprocess
    subprocess.Popen([sys.executable, __file__, child_marks, child_marks])
open(marks + ".ready", "w").close()
while True:
    time.sleep(1)
"""


def launch(tmp_path: Path, *, with_child: bool) -> tuple[ProcessHandle, Path, Path]:
    script = tmp_path / "graceful.py"
    script.write_text(GRACEFUL)
    marks, child_marks = tmp_path / "leader.marks", tmp_path / "child.marks"
    argv = [sys.executable, str(script), str(marks), str(child_marks)]
    popen = subprocess.Popen(argv + (["child"] if with_child else []), start_new_session=True)
    return ProcessHandle.spawn(popen), marks, child_marks


async def start(tmp_path: Path, *, with_child: bool = False) -> tuple[ProcessHandle, Path, Path]:
    """The graceful program in its own session, once it handles SIGTERM (and its child)."""
    handle, marks, child_marks = launch(tmp_path, with_child=with_child)
    waiting_for = [marks, child_marks] if with_child else [marks]
    await eventually(
        lambda: all(Path(f"{m}.ready").exists() for m in waiting_for), "the program started"
    )
    return handle, marks, child_marks


def slow_group_signals(monkeypatch: pytest.MonkeyPatch, marks: Path) -> None:
    """Make `os.killpg` run the way it can on a loaded machine: after the leader has
    already handled a signal sent to it some other way (waiting at most 1 s for that)."""
    killpg = os.killpg

    def late_killpg(pgid: int, sig: int) -> None:
        deadline = time.monotonic() + 1.0
        while not marks.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        killpg(pgid, sig)

    monkeypatch.setattr(os, "killpg", late_killpg)


async def test_sigterm_reaches_the_leader_once_even_when_the_group_signal_is_late(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    handle, marks, _ = await start(tmp_path)
    slow_group_signals(monkeypatch, marks)
    handle.signal_group(signal.SIGTERM)
    async with asyncio.timeout(10):
        code = await handle.wait()
    assert code == 0, f"the leader was killed by signal {-code}: it got the SIGTERM twice"
    assert marks.read_text() == "TERM\n"


async def test_sigterm_reaches_every_member_of_the_group(tmp_path: Path) -> None:
    handle, marks, child_marks = await start(tmp_path, with_child=True)
    try:
        handle.signal_group(signal.SIGTERM)
        async with asyncio.timeout(10):
            assert await handle.wait() == 0
        await eventually(child_marks.exists, "the child got SIGTERM")
        assert marks.read_text() == "TERM\n"
        assert child_marks.read_text() == "TERM\n"
    finally:
        for member in procfs.group_members(handle.pid):
            os.kill(member.pid, signal.SIGKILL)


async def test_an_exited_leader_is_not_signalled(tmp_path: Path) -> None:
    handle, marks, _ = await start(tmp_path)
    handle.signal_group(signal.SIGTERM)
    async with asyncio.timeout(10):
        await handle.wait()
    handle.signal_group(signal.SIGTERM)  # nothing left to signal; must not raise
    assert marks.read_text() == "TERM\n"
