"""Fault injection: the emulator answers like a struggling real API server, on purpose.

`KubeEmulator.faults` is a `Faults` (off by default). Set `rate` (the share of resource
requests that fail) and the `kinds` to draw from; `seed` makes a run repeatable. Each
injected fault is counted in `injected` (by kind) and logged in `log`.

The kinds, each what a real cluster does under load, a failover or an etcd hiccup:

- `conflict`: a write answered 409 Conflict ("the object has been modified"), not applied;
- `error`: 500 InternalError (an etcd timeout), not applied;
- `lost-answer`: the request IS applied, then answered 504 Timeout: the client cannot
  know its write happened (what an etcd commit that times out on the way back looks like);
- `timeout`: no answer for `hang_s` seconds, then 504 (a client with a shorter timeout
  gives up first), not applied;
- `reset`: the connection is closed under the request, with no answer (an API server
  restarting, a load balancer cutting it), not applied. To the client it is what its own
  timeout is, minus the wait: no answer, the connection gone, the write not applied;
- `drop-watch`: a watch stream is cut after `drop_after_s` seconds (a load balancer or
  an API server restart), so the client must resume from its resourceVersion;
- `garbled`: a 200 whose body is not JSON (a proxy's error page in front of the API
  server), not applied; a watch gets it as its one line, then ends.

Discovery, /version and the health endpoints are never faulted: clients cache them and a
real outage of those is a different test. A kind that does not fit the request (a
conflict on a GET, a dropped watch on a plain request) is drawn again from the kinds that fit,
uniformly unless `weights` says otherwise (a long run keeps a few real `timeout`s, which
cost the client's whole timeout each, and gets the rest of its unanswered requests as
`reset`s, which cost nothing).
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass, field

from aiohttp import web

__all__ = ["FAULT_KINDS", "Faults"]

FAULT_KINDS = ("conflict", "error", "lost-answer", "timeout", "reset", "drop-watch", "garbled")
WRITES = ("POST", "PUT", "PATCH", "DELETE")


@dataclass
class Faults:
    rate: float = 0.0
    """Share of resource requests that get a fault (0 = off)."""
    kinds: tuple[str, ...] = FAULT_KINDS
    seed: int | None = None
    hang_s: float = 15.0
    """How long a `timeout` request hangs before its 504."""
    drop_after_s: float = 0.5
    """How long a dropped watch streams before it is cut."""
    weights: dict[str, float] = field(default_factory=dict)
    """Relative odds of each kind among those that fit a request (1 when not given)."""
    injected: Counter[str] = field(default_factory=Counter)
    log: list[str] = field(default_factory=list)
    """`KIND METHOD PATH` of every fault injected, in order."""
    considered: int = 0
    """Resource requests seen while faults were on."""

    def __post_init__(self) -> None:
        _check_kinds(self.kinds, self.weights)
        self._random = random.Random(self.seed)

    def configure(
        self,
        *,
        rate: float,
        kinds: tuple[str, ...] = FAULT_KINDS,
        seed: int,
        weights: dict[str, float] | None = None,
    ) -> None:
        """Turn faults on (or off with rate 0), from a fresh seed."""
        _check_kinds(kinds, weights or {})
        self.rate, self.kinds, self.seed, self.weights = rate, kinds, seed, dict(weights or {})
        self._random = random.Random(seed)

    def pick(self, request: web.Request) -> str | None:
        """The fault this request gets, if any."""
        if self.rate <= 0 or not _faultable(request.path):
            return None
        self.considered += 1
        if self._random.random() >= self.rate:
            return None
        fitting = [
            kind for kind in self.kinds if _fits(kind, request) and self.weights.get(kind, 1.0) > 0
        ]
        if not fitting:
            return None
        if self.weights:
            odds = [self.weights.get(kind, 1.0) for kind in fitting]
            kind = self._random.choices(fitting, weights=odds)[0]
        else:
            kind = self._random.choice(fitting)
        self.injected[kind] += 1
        self.log.append(f"{kind} {request.method} {request.path_qs}")
        return kind

    def schedule_drop(self, request: web.Request) -> None:
        """Cut the connection under a watch after `drop_after_s`."""
        transport = request.transport
        if transport is not None:
            asyncio.get_running_loop().call_later(self.drop_after_s, transport.close)

    @staticmethod
    def reset(request: web.Request) -> None:
        """Close the connection under a request now: whatever is answered never arrives."""
        transport = request.transport
        if transport is not None:
            transport.close()


def _check_kinds(kinds: tuple[str, ...], weights: dict[str, float]) -> None:
    unknown = (set(kinds) | set(weights)) - set(FAULT_KINDS)
    if unknown:
        raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {FAULT_KINDS}")
    negative = sorted(kind for kind, weight in weights.items() if weight < 0)
    if negative:
        raise ValueError(f"fault weights must be 0 or more; negative for {negative}")


def _watching(request: web.Request) -> bool:
    return request.query.get("watch") in ("true", "1") or "/watch/" in request.path


def _fits(kind: str, request: web.Request) -> bool:
    watch = _watching(request)
    if kind == "drop-watch":
        return watch
    if watch:
        return kind in ("error", "garbled")
    if kind in ("conflict", "lost-answer"):
        return request.method in WRITES
    return True


def _faultable(path: str) -> bool:
    """Resource paths: /api/v1/<...>/<resource>... and /apis/<group>/<version>/<...>."""
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["api"]:
        return len(parts) >= 3
    if parts[:1] == ["apis"]:
        return len(parts) >= 4
    return False
