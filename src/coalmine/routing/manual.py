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

The same steps on the other routers that split traffic (`--provider`):

- gatewayapi: a Gateway API Gateway SERVICE (`--gateway-class`, an HTTP listener on port
  80 for the host), Services SERVICE-primary and SERVICE-canary (SERVICE's ports, its
  selector plus the `release` label: the Gateway API has no subsets) and an HTTPRoute
  SERVICE whose backendRefs to the two carry the weights.
- kubernetes: no weights, only Services (blue/green, as the `kubernetes` router runs a
  Canary): the Service SERVICE itself selects one release, `release: primary` after init;
  `split --canary 100` switches it whole to the canary, `--canary 0` back; any other
  share is refused (a Service has no weights: its traffic follows the pods it selects).
"""

from __future__ import annotations

import copy
from typing import Any

from coalmine.errors import CoalmineError, NotFound

__all__ = [
    "CANARY",
    "GATEWAY_API",
    "ISTIO_API",
    "PRIMARY",
    "PROVIDERS",
    "RELEASE_LABEL",
    "ROUTE_KINDS",
    "destination_rule",
    "find_release",
    "gateway",
    "gateway_api_gateway",
    "http_route",
    "init_objects",
    "promoted",
    "release_services",
    "scaled_to_zero",
    "selecting",
    "virtual_service",
    "with_weights",
]

Obj = dict[str, Any]
ISTIO_API = "networking.istio.io/v1beta1"
GATEWAY_API = "gateway.networking.k8s.io/v1"
PROVIDERS = ("istio", "gatewayapi", "kubernetes")
ROUTE_KINDS = {"istio": "VirtualService", "gatewayapi": "HTTPRoute", "kubernetes": "Service"}
"""The object that holds the split, by provider: what `split` changes."""
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


def init_objects(
    provider: str, service: str, namespace: str, host: str, *, apex: Obj | None, gateway_class: str
) -> list[Obj]:
    """What `init` applies for `provider`; `apex` is the Service SERVICE as stored (the
    gatewayapi and kubernetes providers build on it), None when there is none."""
    if provider == "istio":
        return [
            gateway(service, namespace, host),
            destination_rule(service, namespace),
            virtual_service(service, namespace, host, 0),
        ]
    if provider not in PROVIDERS:
        raise CoalmineError(f"--provider {provider}: use one of {', '.join(PROVIDERS)}")
    if apex is None:
        raise NotFound(
            f"service {service} not found in namespace {namespace}; --provider {provider}"
            f" builds on it: apply a Service {service} selecting app: {service} first"
        )
    if provider == "kubernetes":
        return [selecting(apex, PRIMARY)]
    primary, canary = release_services(apex)
    port = int(primary["spec"]["ports"][0]["port"])
    return [
        gateway_api_gateway(service, namespace, host, gateway_class),
        primary,
        canary,
        http_route(service, namespace, host, port, 0),
    ]


def with_weights(route: Obj, canary_weight: int) -> Obj:
    """A copy of the object holding the split (see ROUTE_KINDS) at the new weights."""
    if not 0 <= canary_weight <= 100:
        raise CoalmineError(f"--canary {canary_weight}: a weight is between 0 and 100")
    kind = route.get("kind")
    if kind == "HTTPRoute":
        return _http_route_weights(route, canary_weight)
    if kind == "Service":
        return _switched(route, canary_weight)
    return _virtual_service_weights(route, canary_weight)


def _virtual_service_weights(vs: Obj, canary_weight: int) -> Obj:
    """Every primary/canary route of the VirtualService at the new weights; anything else
    in it (retries, timeouts, other routes) is kept."""
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


# The Gateway API -------------------------------------------------------------------------


def gateway_api_gateway(service: str, namespace: str, host: str, gateway_class: str) -> Obj:
    """A Gateway SERVICE of `gateway_class` with one HTTP listener on port 80 for `host`
    (every host for `*`: a listener without hostname)."""
    listener: Obj = {"name": "http", "port": 80, "protocol": "HTTP"}
    if host != "*":
        listener["hostname"] = host
    listener["allowedRoutes"] = {"namespaces": {"from": "Same"}}
    return {
        "apiVersion": GATEWAY_API,
        "kind": "Gateway",
        "metadata": _metadata(service, namespace),
        "spec": {"gatewayClassName": gateway_class, "listeners": [listener]},
    }


def release_services(apex: Obj) -> tuple[Obj, Obj]:
    """SERVICE-primary and SERVICE-canary: the apex's ports, its selector plus the release
    label (the Gateway API's backends are Services, it has no subsets)."""
    ports = [
        {k: p[k] for k in ("name", "port", "targetPort", "protocol", "appProtocol") if k in p}
        for p in (apex.get("spec") or {}).get("ports") or []
    ]
    if not ports:
        name = apex["metadata"]["name"]
        raise CoalmineError(f"service {name} has no ports; give it the one to route")
    return _release_service(apex, PRIMARY, ports), _release_service(apex, CANARY, ports)


def _release_service(apex: Obj, release: str, ports: list[Obj]) -> Obj:
    meta = apex["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(f"{meta['name']}-{release}", meta["namespace"]),
        "spec": {"selector": selecting(apex, release)["spec"]["selector"], "ports": ports},
    }


def http_route(service: str, namespace: str, host: str, port: int, canary_weight: int) -> Obj:
    """The HTTPRoute SERVICE on the Gateway SERVICE, every path to the two release
    Services by weight (the defaults written out, so that a second init is unchanged)."""
    spec: Obj = {
        "parentRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": service}]
    }
    if host != "*":
        spec["hostnames"] = [host]
    backends = [
        {"group": "", "kind": "Service", "name": f"{service}-{release}", "port": port, "weight": w}
        for release, w in ((PRIMARY, 100 - canary_weight), (CANARY, canary_weight))
    ]
    spec["rules"] = [
        {"matches": [{"path": {"type": "PathPrefix", "value": "/"}}], "backendRefs": backends}
    ]
    return {
        "apiVersion": GATEWAY_API,
        "kind": "HTTPRoute",
        "metadata": _metadata(service, namespace),
        "spec": spec,
    }


def _http_route_weights(route: Obj, canary_weight: int) -> Obj:
    """Every backendRef to SERVICE-primary or SERVICE-canary at the new weights; anything
    else in the route (other rules, filters, matches) is kept."""
    changed = copy.deepcopy(route)
    name = route.get("metadata", {}).get("name")
    weights = {f"{name}-{PRIMARY}": 100 - canary_weight, f"{name}-{CANARY}": canary_weight}
    found = False
    for rule in (changed.get("spec") or {}).get("rules") or []:
        for backend in rule.get("backendRefs") or []:
            if backend.get("kind", "Service") == "Service" and backend.get("name") in weights:
                backend["weight"] = weights[backend["name"]]
                found = True
    if not found:
        raise CoalmineError(
            f"httproute {name} has no backendRef to service {name}-{PRIMARY} or {name}-{CANARY};"
            f" create them with: coalmine manual init {name} --provider gatewayapi"
        )
    return changed


# Services only (the kubernetes provider) ------------------------------------------------


def selecting(service: Obj, release: str) -> Obj:
    """The Service selecting one release's pods: its selector plus `release: RELEASE`."""
    changed = copy.deepcopy(service)
    spec = changed.setdefault("spec", {})
    spec["selector"] = {**(spec.get("selector") or {}), RELEASE_LABEL: release}
    return changed


def _switched(service: Obj, canary_weight: int) -> Obj:
    name = service.get("metadata", {}).get("name")
    if RELEASE_LABEL not in ((service.get("spec") or {}).get("selector") or {}):
        raise CoalmineError(
            f"service {name} selects no release; make it select the primary with:"
            f" coalmine manual init {name} --provider kubernetes"
        )
    if canary_weight not in (0, 100):
        raise CoalmineError(
            f"--canary {canary_weight}: provider kubernetes has no weights, the Service {name}"
            " sends all traffic to the release it selects (blue/green); use --canary 100 to"
            " switch to the canary, --canary 0 to switch back, or split by weight with"
            " --provider istio or gatewayapi"
        )
    return selecting(service, CANARY if canary_weight == 100 else PRIMARY)


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
