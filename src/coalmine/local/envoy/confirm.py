"""Waiting for Envoy to confirm an xDS file: it reports the file's version, or rejects it.

Envoy publishes, per subscription, a `version_text` stat (the `version_info` of the last
file it applied) and an `update_rejected` counter. A file's version is a hash of its
content (`render.xds_file`), so "applied" means exactly "this content is in force".
A rejection's reason is only in Envoy's log, from which we quote it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from coalmine.errors import AdapterError, EnvoyRejected, Problem, Unavailable
from coalmine.local.envoy.render import Rendered, xds_file
from coalmine.local.envoy.supervisor import EnvoySupervisor

__all__ = ["CDS", "LDS", "Confirmations", "rds"]

CDS = "cluster_manager.cds"
LDS = "listener_manager.lds"
_POLL_S = 0.005


def rds(listener: str) -> str:
    """Stat prefix of a listener's routes (stat prefix and route name are its name)."""
    return f"http.{listener}.rds.{listener}"


class Confirmations:
    def __init__(
        self,
        supervisor: EnvoySupervisor,
        timeout_s: float,
        seen: dict[tuple[int | None, str], int] | None = None,
    ) -> None:
        self._supervisor = supervisor
        self._timeout_s = timeout_s
        self._seen = {} if seen is None else seen
        """Rejection counts read at the last confirmation, by (Envoy pid, stat): the
        baseline of the next change, without asking Envoy again (a few ms under load)."""

    async def rejections(self, stat: str) -> int:
        """How many updates of `stat` Envoy rejected so far (0 while it is down)."""
        known = self._seen.get((self._supervisor.pid, stat))
        if known is not None:
            return known
        try:
            values = await self._supervisor.admin.stats(f"^{_escape(stat)}\\.update_rejected$")
        except Unavailable:
            return 0
        return int(values.get(f"{stat}.update_rejected", 0))

    async def version(self, stat: str, version: str, rejected: int = 0) -> None:
        """Wait until `stat` reports `version`; EnvoyRejected when a rejection is counted
        past `rejected`. Survives an Envoy restart in between (counters start again)."""
        names = f"^{_escape(stat)}\\.(version_text|update_rejected)$"
        deadline = time.monotonic() + self._timeout_s
        admin_url = ""
        while time.monotonic() < deadline:
            admin = await self._supervisor.wait_running(max(0.0, deadline - time.monotonic()))
            if admin_url and admin.url != admin_url:
                rejected = 0
            admin_url = admin.url
            try:
                values = await admin.stats(names)
            except Unavailable:
                continue
            if values.get(f"{stat}.version_text") == version:
                counted = int(values.get(f"{stat}.update_rejected", 0))
                self._seen[(self._supervisor.pid, stat)] = counted
                return
            if int(values.get(f"{stat}.update_rejected", 0)) > rejected:
                self._seen.pop((self._supervisor.pid, stat), None)
                raise EnvoyRejected([Problem("envoy data plane", stat, self.reason())])
            await asyncio.sleep(_POLL_S)
        raise AdapterError(
            f"Envoy did not apply {stat} version {version} within {self._timeout_s:.0f}s;"
            f" see {self._supervisor.log_path}"
        )

    async def listening(self, listeners: Mapping[str, Any]) -> None:
        """Wait until every listener is active on its port: Envoy's validation cannot
        bind, and a new listener turns active only once its routes are loaded."""
        wanted = {
            name: listener["address"]["socket_address"]["port_value"]
            for name, listener in listeners.items()
        }
        deadline = time.monotonic() + self._timeout_s
        while True:
            bound = await self._supervisor.admin.listeners()
            missing = [name for name, port in wanted.items() if bound.get(name, ("", 0))[1] != port]
            if not missing:
                return
            if time.monotonic() > deadline:
                raise AdapterError(
                    f"Envoy did not start listening for {', '.join(missing)} within"
                    f" {self._timeout_s:.0f}s; see {self._supervisor.log_path}"
                )
            await asyncio.sleep(_POLL_S)

    async def serving(self, rendered: Rendered) -> None:
        """Wait until Envoy serves all of `rendered` (after a start or a restart)."""
        await self.version(CDS, version_of(list(rendered.clusters.values())))
        await self.version(LDS, version_of(list(rendered.listeners.values())))
        for name, routes in rendered.routes.items():
            await self.version(rds(name), version_of([routes]))
        await self.listening(rendered.listeners)

    def reason(self) -> str:
        """Envoy's reason for the latest rejected update, quoted from its log."""
        try:
            lines = self._supervisor.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            lines = []
        reasons = [line for line in lines if "rejected" in line]
        if not reasons:
            return f"Envoy rejected the update; see {self._supervisor.log_path}"
        return "Envoy rejected the update: " + reasons[-1].split("rejected:", 1)[-1].strip()


def version_of(resources: list[Any]) -> str:
    version: str = xds_file(resources)["version_info"]
    return version


def _escape(stat: str) -> str:
    return stat.replace(".", "\\.")
