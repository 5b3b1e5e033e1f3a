"""Which target a command talks to: picked once per command, by one rule.

1. `--context` or `--kubeconfig` given: Kubernetes.
2. A `coalmine up` runs for `--state-dir` (its `api.json` names a live pid): local.
3. A kubeconfig exists (`$KUBECONFIG`, else `~/.kube/config`), or the command runs in
   a pod (service-account token): Kubernetes.
4. Otherwise exit 3, saying both ways to fix it.

Local wins over an ambient kubeconfig because starting `coalmine up` is a deliberate
act in this directory, while a kubeconfig is often just lying around; a flag always
wins over both.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from coalmine.errors import Unavailable
from coalmine.targets.base import Target

__all__ = [
    "SERVICE_ACCOUNT",
    "TargetOptions",
    "choose",
    "local_pid",
    "open_target",
    "restarting",
    "wait_for_restart",
]

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
Mode = Literal["local", "kubernetes"]


@dataclass(frozen=True)
class TargetOptions:
    """The flags every pipeline command takes to find its target."""

    state_dir: Path = Path(".coalmine")
    """The local runtime's state directory."""
    context: str | None = None
    """A kubeconfig context (implies Kubernetes)."""
    kubeconfig: Path | None = None
    """A kubeconfig file (implies Kubernetes)."""
    namespace: str | None = None
    """-n; None: the kubeconfig context's namespace, or `default`."""
    request_timeout: float = 10.0
    """Seconds one Kubernetes API request may take."""


def choose(options: TargetOptions) -> Mode:
    """The rule above; raises Unavailable (exit 3) when neither mode is available."""
    if options.context or options.kubeconfig:
        return "kubernetes"
    if local_pid(options.state_dir) is not None:
        return "local"
    if _kubeconfig_found():
        return "kubernetes"
    raise Unavailable(
        f"no coalmine up is running for state directory {options.state_dir} and no "
        "kubeconfig was found; either pass the --state-dir of a running `coalmine up` "
        f"(or start one: `coalmine up --state-dir {options.state_dir}`), or point at a "
        "cluster with --kubeconfig PATH, --context NAME or the KUBECONFIG environment variable"
    )


async def open_target(options: TargetOptions) -> Target:
    """The target the rule picks, connected."""
    if choose(options) == "local":
        from coalmine.targets.local import LocalTarget

        return LocalTarget(options.state_dir, options.namespace)
    return await _kube(options)


async def _kube(options: TargetOptions) -> Target:
    from coalmine.kube.runtime.connection import connect
    from coalmine.kube.runtime.settings import ClusterSettings
    from coalmine.targets.kube import KubeTarget

    settings = ClusterSettings(
        kubeconfig=options.kubeconfig,
        context=options.context,
        request_timeout=options.request_timeout,
    )
    client = await connect(settings)
    server = getattr(client.api.auth, "server", "") or "?"
    context = f", context {options.context}" if options.context else ""
    return KubeTarget(client, f"Kubernetes at {server}{context}", options.namespace)


def local_pid(state_dir: Path) -> int | None:
    """The pid of the `coalmine up` serving `state_dir`, if one is alive."""
    try:
        pid = int(json.loads((state_dir / "api.json").read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # alive, another user's
        return pid
    return pid


def restarting(state_dir: Path) -> bool:
    """A `coalmine up` published its endpoint here and its pid is gone: killed, or
    restarting. (A clean stop removes api.json.)"""
    return (state_dir / "api.json").is_file() and local_pid(state_dir) is None


async def wait_for_restart(options: TargetOptions, grace: float) -> None:
    """Give a restarting `coalmine up` up to `grace` seconds to come back before the rule
    picks a target, unless a flag already picked Kubernetes."""
    if options.context or options.kubeconfig:
        return
    deadline = time.monotonic() + grace
    while restarting(options.state_dir) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.25)  # another process writes the file: no event to await


def _kubeconfig_found() -> bool:
    paths = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    if not paths:
        paths = [str(Path.home() / ".kube" / "config")]
    if any(Path(p).is_file() for p in paths):
        return True
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and (SERVICE_ACCOUNT / "token").is_file()
