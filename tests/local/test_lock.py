"""One `coalmine up` per state directory: an flock, free the moment its holder dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from coalmine.errors import CoalmineError
from coalmine.local.lock import StateLock
from coalmine.local.processes import procfs

HOLDER = """
import sys, time
from pathlib import Path
from coalmine.local.lock import StateLock
StateLock(Path(sys.argv[1])).acquire()
print("held", flush=True)
time.sleep(60)
"""


def test_a_second_holder_is_refused_naming_the_first(tmp_path: Path) -> None:
    first, second = StateLock(tmp_path), StateLock(tmp_path)
    first.acquire()
    with pytest.raises(CoalmineError, match=rf"a coalmine up \(pid {os.getpid()}\) already runs"):
        second.acquire()
    first.release()
    second.acquire()  # free again once released
    second.release()


def test_the_lock_is_free_as_soon_as_its_holder_is_killed_even_unreaped(tmp_path: Path) -> None:
    """kill -9 leaves a zombie until the parent reaps it; kill(pid, 0) still succeeds on
    a zombie (what made a restart one second later say "already runs"), the flock not."""
    command = [sys.executable, "-c", HOLDER, str(tmp_path)]
    holder = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(CoalmineError, match=rf"pid {holder.pid}"):
            StateLock(tmp_path).acquire()
        os.kill(holder.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while (info := procfs.proc_info(holder.pid)) is not None and info.state != "Z":
            assert time.monotonic() < deadline, "the holder did not die"
            time.sleep(0.01)
        os.kill(holder.pid, 0)  # the zombie: a pid check would think it runs
        lock = StateLock(tmp_path)
        lock.acquire()
        lock.release()
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
