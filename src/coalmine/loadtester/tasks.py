"""The tasks a webhook can ask the load tester to run, named by `metadata.type`.

- `cmd` (the default, as in Flagger): start `metadata.cmd` in the background and answer
  202 at once. The command is split like a shell would (`shlex.split`) but run without
  one: pipes, redirections and `$VARS` are not interpreted. Use `bash` for those.
- `bash`: run `bash -c "$cmd"`, wait for it, answer 200 with its output when it exits 0
  and 500 with its output when it does not, so the webhook fails with that output.
- `load`: send HTTP requests at `metadata.rps` for `metadata.duration` to
  `metadata.url` in the background, with `coalmine.load` (coalmine's addition: no
  external tool needed).

Background tasks are deduplicated per canary: one identical to a task still running is
not started again. Every task has a deadline (`metadata.timeout`) and is killed there.
Commands come only from the webhook's own metadata, that is from the Canary.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from aiohttp import web

from coalmine.api.common import parse_duration
from coalmine.load import LoadPlan, LoadResult
from coalmine.loadtester.background import BackgroundTasks, TaskKey
from coalmine.loadtester.commands import CommandResult, RunningCommand
from coalmine.loadtester.load import plan_from_metadata
from coalmine.loadtester.logs import log_event
from coalmine.loadtester.payload import BadRequest, Forbidden, HookPayload, read_payload

__all__ = ["TASK_TYPES", "LoadRunner", "TaskHandler", "TaskSettings"]

TASK_TYPES = ("cmd", "bash", "load")

LoadRunner = Callable[[LoadPlan], Awaitable[LoadResult]]
"""What the `load` task needs from a load generator: a plan in, a result out
(`coalmine.load.generate_load`)."""


@dataclass(frozen=True)
class TaskSettings:
    background_timeout: float = 3600.0
    """Seconds a background task (cmd) may run when metadata.timeout is not set."""
    blocking_timeout: float = 600.0
    """Seconds a blocking task (bash) may run when metadata.timeout is not set. Set the
    webhook's own timeout to match: the webhook gives up on its own deadline."""
    commands: bool = False
    """Run `cmd` and `bash` tasks. Off unless asked for (`--enable-commands`): anyone who
    can reach the port could otherwise run programs as the load tester's user."""
    token: str | None = None
    """When set, every request must carry `Authorization: Bearer <token>`. Required
    with `commands`."""

    def __post_init__(self) -> None:
        if self.commands and not self.token:
            raise ValueError(
                "commands need a token: set COALMINE_LOADTESTER_TOKEN (or --token-file)"
            )


class TaskHandler:
    """Serves `POST /`: reads the payload, runs the task its metadata names."""

    def __init__(
        self, settings: TaskSettings, background: BackgroundTasks, generate: LoadRunner
    ) -> None:
        self.settings = settings
        self.background = background
        self.generate = generate

    async def handle(self, request: web.Request) -> web.Response:
        payload: HookPayload | None = None
        try:
            payload = await read_payload(request)
            return await self._dispatch(payload)
        except Forbidden as error:
            log_event("task refused", payload, level=logging.WARNING, reason=str(error))
            return web.Response(status=403, text=str(error))
        except BadRequest as error:
            log_event("task refused", payload, level=logging.WARNING, reason=str(error))
            return web.Response(status=400, text=str(error))

    async def _dispatch(self, payload: HookPayload) -> web.Response:
        if not payload.metadata:
            raise BadRequest("metadata not found in payload: set metadata.type and its fields")
        kind = payload.metadata.get("type", "cmd")
        if kind in ("cmd", "bash") and not self.settings.commands:
            raise Forbidden(
                f"{kind} tasks are off: start the load tester with --enable-commands"
                " (and a token) to run commands"
            )
        if kind == "cmd":
            return await self._cmd(payload)
        if kind == "bash":
            return await self._bash(payload)
        if kind == "load":
            return self._load(payload)
        raise BadRequest(f"unknown task type {kind!r}; valid types: {', '.join(TASK_TYPES)}")

    async def _cmd(self, payload: HookPayload) -> web.Response:
        command = _required(payload.metadata, "cmd")
        argv = _split(command)
        timeout = _timeout(payload.metadata, self.settings.background_timeout)
        key: TaskKey = (payload.canary, f"cmd {command}")
        if not self.background.claim(key):
            log_event("task skipped", payload, type="cmd", cmd=command)
            return web.Response(status=202, text=f"already running for {payload.canary}")
        try:
            running = await RunningCommand.start(argv)
        except OSError as error:
            self.background.release(key)
            raise BadRequest(f"cannot start {argv[0]!r}: {error.strerror or error}") from None
        log_event("task started", payload, type="cmd", cmd=command, timeout=timeout)
        log_output = payload.metadata.get("logCmdOutput", "").lower() == "true"
        self.background.run(key, _finish(running, timeout, payload, command, log_output))
        return web.Response(status=202, text=f"started for {payload.canary}")

    async def _bash(self, payload: HookPayload) -> web.Response:
        command = _required(payload.metadata, "cmd")
        timeout = _timeout(payload.metadata, self.settings.blocking_timeout)
        log_event("task started", payload, type="bash", cmd=command, timeout=timeout)
        try:
            running = await RunningCommand.start(["bash", "-c", command])
        except OSError as error:
            return web.Response(status=500, text=f"cannot start bash: {error.strerror or error}")
        result = await running.finish(timeout)
        _log_result(payload, "bash", command, result, log_output=True)
        if result.ok:
            return web.Response(text=result.output)
        output = f": {result.output}" if result.output.strip() else " (no output)"
        return web.Response(status=500, text=result.describe() + output)

    def _load(self, payload: HookPayload) -> web.Response:
        try:
            plan = plan_from_metadata(payload.metadata)
        except ValueError as error:
            raise BadRequest(str(error)) from None
        headers = sorted(plan.headers.items())
        what = f"load {plan.method} {plan.urls} {plan.rate:g}/s {plan.duration:g}s {headers}"
        key: TaskKey = (payload.canary, what)
        if not self.background.claim(key):
            log_event("task skipped", payload, type="load", url=plan.urls[0])
            return web.Response(status=202, text=f"already running for {payload.canary}")
        log_event(
            "task started",
            payload,
            type="load",
            url=plan.urls[0],
            rps=plan.rate,
            duration=plan.duration,
            method=plan.method,
        )
        self.background.run(key, _run_load(self.generate, plan, payload))
        return web.Response(status=202, text=f"started for {payload.canary}")


async def _finish(
    running: RunningCommand, deadline: float, payload: HookPayload, command: str, log_output: bool
) -> None:
    result = await running.finish(deadline)
    _log_result(payload, "cmd", command, result, log_output=log_output or not result.ok)


async def _run_load(generate: LoadRunner, plan: LoadPlan, payload: HookPayload) -> None:
    deadline = plan.duration + plan.timeout + 5
    url = plan.urls[0]
    try:
        async with asyncio.timeout(deadline):
            result = await generate(plan)
    except TimeoutError:
        log_event("task failed", payload, level=logging.WARNING, url=url, timedOut=True)
        return
    latency = result.latency
    log_event(
        "task finished",
        payload,
        type="load",
        url=url,
        sent=result.sent,
        rate=round(result.rate, 1),
        statuses=dict(result.statuses),
        errors=dict(result.errors),
        dropped=result.dropped,
        p99Ms=round(latency.p99 * 1000, 1) if latency else None,
    )


def _log_result(
    payload: HookPayload, kind: str, command: str, result: CommandResult, *, log_output: bool
) -> None:
    log_event(
        "task finished" if result.ok else "task failed",
        payload,
        level=logging.INFO if result.ok else logging.WARNING,
        type=kind,
        cmd=command,
        exitCode=result.exit_code,
        timedOut=result.exit_code is None,
        seconds=round(result.seconds, 3),
        output=result.output[-2000:] if log_output else None,
    )


def _required(metadata: Mapping[str, str], name: str) -> str:
    value = metadata.get(name, "").strip()
    if not value:
        raise BadRequest(f"{name} not found in metadata: set metadata.{name}")
    return value


def _split(command: str) -> list[str]:
    try:
        argv = shlex.split(command)
    except ValueError as error:
        raise BadRequest(f"metadata.cmd cannot be split into arguments: {error}") from None
    if not argv:
        raise BadRequest("metadata.cmd is empty")
    return argv


def _timeout(metadata: Mapping[str, str], default: float) -> float:
    text = metadata.get("timeout")
    if not text:
        return default
    try:
        seconds = parse_duration(text).total_seconds()
    except ValueError as error:
        raise BadRequest(f"metadata.timeout {error}") from None
    if seconds <= 0:
        raise BadRequest(f"metadata.timeout must be above 0, got {text!r}")
    return seconds
