"""The manual canary's objects, as data: what `coalmine manual init|split|finish|rollback`
apply, each a manifest a person could `kubectl apply` instead.

The convention (Istio's usual one): a Service SERVICE selects `app: SERVICE`; two
Deployments run the releases, their pods labelled `app: SERVICE` plus `release: primary`
or `release: canary`. A DestinationRule SERVICE defines the subsets `primary` and
`canary` by the `release` label; a VirtualService SERVICE, bound to the Gateway
SERVICE, splits traffic between the two subsets by weight.

- init:     Gateway, DestinationRule, VirtualService at 100/0.
- split N:  the VirtualService's weights to 100-N/N.
- finish:   the primary Deployment takes the canary's pod template (keeping its own
            selector labels, `release: primary`), then 100/0, then the canary at zero.
- rollback: 100/0, then the canary at zero.
"""

from __future__ import annotations

import copy
from typing import Any

from coalmine.errors import CoalmineError, NotFound

__all__ = [
    "CANARY",
    "ISTIO_API",
    "PRIMARY",
    "RELEASE_LABEL",
    "destination_rule",
    "find_release",
    "gateway",
    "promoted",
    "scaled_to_zero",
    "virtual_service",
    "with_weights",
]

Obj = dict[str, Any]
ISTIO_API = "networking.istio.io/v1beta1"
RELEASE_LABEL = "release"
PRIMARY = "primary"
CANARY = "canary"


def _metadata(service: str, namespace: str) -> Obj:
    return {"name": service, "namespace": namespace}


def gateway(service: str, namespace: str, host: str) -> Obj:
    return {
        "apiVersion": ISTIO_API,
        "kind": "Gateway",
        "metadata": _metadata(service, namespace),
        "spec": {
            "selector": {"istio": "ingressgateway"},
            "servers": [
                {"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": [host]}
            ],
        },
    }


def destination_rule(service: str, namespace: str) -> Obj:
    return {
        "apiVersion": ISTIO_API,
        "kind": "DestinationRule",
        "metadata": _metadata(service, namespace),
        "spec": {
            "host": service,
            "subsets": [
                {"name": subset, "labels": {RELEASE_LABEL: subset}} for subset in (PRIMARY, CANARY)
            ],
        },
    }


def virtual_service(service: str, namespace: str, host: str, canary_weight: int) -> Obj:
    return {
        "apiVersion": ISTIO_API,
        "kind": "VirtualService",
        "metadata": _metadata(service, namespace),
        "spec": {
            "hosts": [host],
            "gateways": [service],
            "http": [{"route": _route(service, canary_weight)}],
        },
    }


def _route(service: str, canary_weight: int) -> list[Obj]:
    return [
        {"destination": {"host": service, "subset": PRIMARY}, "weight": 100 - canary_weight},
        {"destination": {"host": service, "subset": CANARY}, "weight": canary_weight},
    ]


def with_weights(vs: Obj, canary_weight: int) -> Obj:
    """A copy of the VirtualService with every primary/canary route at the new weights;
    anything else in it (retries, timeouts, other routes) is kept."""
    if not 0 <= canary_weight <= 100:
        raise CoalmineError(f"--canary {canary_weight}: a weight is between 0 and 100")
    changed = copy.deepcopy(vs)
    found = False
    for http in (changed.get("spec") or {}).get("http") or []:
        for destination in http.get("route") or []:
            subset = (destination.get("destination") or {}).get("subset")
            if subset in (PRIMARY, CANARY):
                destination["weight"] = canary_weight if subset == CANARY else 100 - canary_weight
                found = True
    if not found:
        name = vs.get("metadata", {}).get("name")
        raise CoalmineError(
            f"virtualservice {name} routes to no subset {PRIMARY!r} or {CANARY!r};"
            f" create it with: coalmine manual init {name}"
        )
    return changed


def find_release(deployments: list[Obj], service: str, release: str, namespace: str) -> Obj:
    """The one Deployment whose pods carry `app: SERVICE` and `release: RELEASE`."""
    wanted = {"app": service, RELEASE_LABEL: release}
    found = [d for d in deployments if _pod_labels(d).items() >= wanted.items()]
    if len(found) == 1:
        return found[0]
    labels = ", ".join(f"{k}: {v}" for k, v in wanted.items())
    if not found:
        raise NotFound(
            f"no Deployment in namespace {namespace} has pods labelled {labels}; label the"
            f" {release} release's pod template so (see docs/cli.md, the manual canary)"
        )
    names = ", ".join(d["metadata"]["name"] for d in found)
    raise CoalmineError(f"several Deployments have pods labelled {labels}: {names}; keep one")


def _pod_labels(deployment: Obj) -> dict[str, str]:
    template = (deployment.get("spec") or {}).get("template") or {}
    return dict((template.get("metadata") or {}).get("labels") or {})


def promoted(primary: Obj, canary: Obj) -> Obj:
    """The primary Deployment running the canary's pod template, with the primary's own
    selector labels (so its pods stay the primary's, `release: primary`)."""
    result = copy.deepcopy(primary)
    template = copy.deepcopy(canary["spec"]["template"])
    labels = template.setdefault("metadata", {}).setdefault("labels", {})
    labels.update(((primary["spec"].get("selector") or {}).get("matchLabels")) or {})
    labels[RELEASE_LABEL] = PRIMARY
    result["spec"]["template"] = template
    return result


def scaled_to_zero(deployment: Obj) -> Obj:
    result = copy.deepcopy(deployment)
    result["spec"]["replicas"] = 0
    return result
