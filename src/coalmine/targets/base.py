"""What the pipeline commands need from where canaries run: the `Target` protocol.

A target is the local runtime (`coalmine up`) or a Kubernetes cluster. The commands
(`deploy`, `wait`, `status`, `promote`, `abort`, `pause`, `resume`, `manual`, `doctor`)
are written once against this protocol; `targets.local` and `targets.kube` implement
it. Canaries and events come back as the small read-only views below, the same in
both modes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

__all__ = [
    "Asked",
    "CanaryView",
    "CheckView",
    "EventView",
    "RolloutView",
    "Target",
]

Asked = Literal["promote", "abort", "pause", "resume"]
Obj = dict[str, Any]


@dataclass(frozen=True)
class CheckView:
    """The last value of one metric against its range (`status.checks[]`)."""

    name: str
    value: float | None
    min: float | None
    max: float | None
    passed: bool
    reason: str = ""

    @classmethod
    def of(cls, check: Obj) -> CheckView:
        value = check.get("value")
        return cls(
            name=str(check.get("name", "")),
            value=float(value) if value is not None else None,
            min=check.get("min"),
            max=check.get("max"),
            passed=bool(check.get("passed")),
            reason=str(check.get("reason") or ""),
        )

    def range_text(self) -> str:
        """`>= 99`, `<= 1000` or `99..100`."""
        if self.min is not None and self.max is not None:
            return f"{self.min:g}..{self.max:g}"
        if self.min is not None:
            return f">= {self.min:g}"
        return f"<= {self.max:g}" if self.max is not None else "any"


@dataclass(frozen=True)
class CanaryView:
    """A Canary as read: its spec and status as the API serves them (camelCase dicts)."""

    namespace: str
    name: str
    spec: Obj
    status: Obj
    annotations: dict[str, str] = field(default_factory=dict)
    api_version: str = "coalmine.dev/v1beta1"

    @property
    def key(self) -> str:
        """name.namespace, as events name a canary."""
        return f"{self.name}.{self.namespace}"

    @property
    def target(self) -> str:
        return str(self.spec.get("targetRef", {}).get("name", ""))

    @property
    def phase(self) -> str | None:
        phase = self.status.get("phase")
        return str(phase) if phase else None

    @property
    def weight(self) -> int:
        return int(self.status.get("canaryWeight") or 0)

    @property
    def failed_checks(self) -> int:
        return int(self.status.get("failedChecks") or 0)

    @property
    def threshold(self) -> int:
        """Failed checks that roll back (Flagger's default when unset: 1)."""
        return int((self.spec.get("analysis") or {}).get("threshold") or 1)

    @property
    def suspended(self) -> bool:
        return bool(self.spec.get("suspend"))

    @property
    def last_applied(self) -> str | None:
        return self.status.get("lastAppliedSpec")

    @property
    def last_promoted(self) -> str | None:
        return self.status.get("lastPromotedSpec")

    @property
    def last_transition(self) -> str | None:
        return self.status.get("lastTransitionTime")

    @property
    def checks(self) -> list[CheckView]:
        return [CheckView.of(c) for c in self.status.get("checks") or []]


@dataclass(frozen=True)
class EventView:
    """One event about a canary. `key` is unique per occurrence (a repeat has a new key)."""

    key: str
    time: datetime
    """The latest occurrence (an aggregated Event's lastTimestamp)."""
    type: str
    reason: str
    message: str
    first_time: datetime | None = None
    """The first occurrence, when the Event counts several (`count` > 1); else None."""
    count: int = 1


@dataclass(frozen=True)
class RolloutView:
    """Where a Deployment's rollout is: done when every replica runs the current template."""

    done: bool
    replicas: int
    updated: int
    available: int


class Target(Protocol):
    """Where canaries run. Every call has a timeout; failures raise coalmine's errors:
    `NotFound` for a missing object, `Unavailable` (exit 3) when it cannot be reached."""

    kind: Literal["local", "kubernetes"]
    description: str
    """Said in messages: "the local runtime (.coalmine)", "Kubernetes context kind"."""
    namespace: str
    """The namespace used when -n is not given."""

    async def canary(self, namespace: str, name: str) -> CanaryView: ...

    async def canaries(self, namespace: str | None) -> list[CanaryView]:
        """Canaries of a namespace, or of all namespaces for None."""
        ...

    async def events(self, namespace: str, name: str, limit: int = 50) -> list[EventView]:
        """The canary's most recent events, oldest first."""
        ...

    async def revision(self, namespace: str, deployment: str) -> str:
        """The revision of the Deployment's pod template, computed as the controller does."""
        ...

    async def set_image(
        self, namespace: str, deployment: str, image: str, container: str | None
    ) -> str:
        """Change a container's image; return the new revision."""
        ...

    async def set_env(
        self, namespace: str, deployment: str, env: dict[str, str], container: str | None
    ) -> str:
        """Set environment variables of a container; return the new revision."""
        ...

    async def ask(self, canary: CanaryView, asked: Asked, by: str) -> None:
        """Promote/abort (the request annotation) or pause/resume (`spec.suspend`), and
        record an event saying who asked."""
        ...

    async def objects(self, kind: str, namespace: str) -> list[Obj]:
        """Manifests of every object of a kind (Deployment, VirtualService, ...)."""
        ...

    async def get_object(self, kind: str, namespace: str, name: str) -> Obj | None: ...

    async def apply(self, manifests: list[Obj]) -> list[str]:
        """Create or update each object; return lines such as `virtualservice/x configured`."""
        ...

    async def rollout(self, namespace: str, deployment: str) -> RolloutView: ...

    async def metrics(
        self, namespace: str, name: str, interval: str, server: str | None
    ) -> dict[str, Any]:
        """Built-in measurements of primary and canary (see metrics.side_by_side)."""
        ...

    async def close(self) -> None: ...
