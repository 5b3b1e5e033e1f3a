"""Background tasks, at most one per (canary, task): the same load is not started twice.

The engine calls a rollout webhook at every analysis interval; a load test that runs
longer than one interval would otherwise pile up copies of itself. As in Flagger, a
task identical to one still running (same canary, same command) is skipped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

__all__ = ["BackgroundTasks", "TaskKey"]

TaskKey = tuple[str, str]
"""(canary as name.namespace, what the task does: its kind and its command or plan)."""


class BackgroundTasks:
    def __init__(self) -> None:
        self._claimed: set[TaskKey] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def claim(self, key: TaskKey) -> bool:
        """Reserve `key`; False when a task with that key is running (or starting)."""
        if key in self._claimed:
            return False
        self._claimed.add(key)
        return True

    def release(self, key: TaskKey) -> None:
        """Give up a claim that never became a task (its start failed)."""
        self._claimed.discard(key)

    def run(self, key: TaskKey, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` for a claimed key; the claim ends when it does."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._done(key, done))

    def _done(self, key: TaskKey, task: asyncio.Task[None]) -> None:
        self._claimed.discard(key)
        self._tasks.discard(task)

    def running(self) -> int:
        return len(self._tasks)

    async def close(self) -> None:
        """Stop every task (each stops what it started) and wait for them."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
