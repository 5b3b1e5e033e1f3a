"""`coalmine get`: list objects of the local runtime, kubectl style."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import typer

from coalmine.cli.common import AllNamespaces, Namespace, StateDir, age, client, table

__all__ = ["get"]

Item = dict[str, Any]

KINDS = {
    "canaries": "Canary",
    "canary": "Canary",
    "deployments": "Deployment",
    "deployment": "Deployment",
    "deploy": "Deployment",
    "services": "Service",
    "service": "Service",
    "svc": "Service",
    "virtualservices": "VirtualService",
    "virtualservice": "VirtualService",
    "vs": "VirtualService",
    "destinationrules": "DestinationRule",
    "destinationrule": "DestinationRule",
    "dr": "DestinationRule",
    "gateways": "Gateway",
    "gateway": "Gateway",
    "gw": "Gateway",
    "gateways.gateway.networking.k8s.io": "Gateway.gateway.networking.k8s.io",
    "gateway.gateway.networking.k8s.io": "Gateway.gateway.networking.k8s.io",
    "httproutes": "HTTPRoute",
    "httproute": "HTTPRoute",
    "referencegrants": "ReferenceGrant",
    "referencegrant": "ReferenceGrant",
    "configmaps": "ConfigMap",
    "configmap": "ConfigMap",
    "cm": "ConfigMap",
    "secrets": "Secret",
    "secret": "Secret",
    "metrictemplates": "MetricTemplate",
    "alertproviders": "AlertProvider",
}


def _canary_row(item: Item) -> list[str]:
    status = item.get("status") or {}
    return [
        status.get("phase") or "<pending>",
        str(status.get("canaryWeight", 0)),
        str(status.get("failedChecks", 0)),
        age(status.get("lastTransitionTime")),
    ]


def _deployment_row(item: Item) -> list[str]:
    status = item.get("status") or {}
    replicas = status.get("replicas", item["manifest"]["spec"].get("replicas", 1))
    return [
        f"{status.get('availableReplicas', 0)}/{replicas}",
        str(status.get("updatedReplicas", 0)),
        str(status.get("availableReplicas", 0)),
        str(status.get("revision", ""))[:8],
    ]


def _service_row(item: Item) -> list[str]:
    spec = item["manifest"]["spec"]
    selector = ",".join(f"{k}={v}" for k, v in spec["selector"].items())
    ports = ",".join(f"{p['port']}->{p.get('targetPort', p['port'])}" for p in spec["ports"])
    return [selector, ports]


def _virtual_service_row(item: Item) -> list[str]:
    spec = item["manifest"]["spec"]
    routes = [
        " ".join(
            f"{d['destination']['host']}"
            + (f"/{d['destination']['subset']}" if d["destination"].get("subset") else "")
            + f" {d.get('weight', 100)}%"
            for d in http["route"]
        )
        for http in spec["http"]
    ]
    return [",".join(spec.get("gateways") or ["mesh"]), ",".join(spec["hosts"]), " | ".join(routes)]


def _http_route_row(item: Item) -> list[str]:
    spec = item["manifest"]["spec"]
    parents = ",".join(p["name"] for p in spec.get("parentRefs") or [])
    rules = [
        " ".join(f"{b['name']} {b.get('weight', 1)}" for b in rule.get("backendRefs") or [])
        for rule in spec.get("rules") or []
    ]
    return [parents, ",".join(spec.get("hostnames") or ["*"]), " | ".join(rules)]


def _config_row(item: Item) -> list[str]:
    """kubectl's DATA column (the number of keys); a Secret's TYPE. Never a value."""
    manifest = item["manifest"]
    count = len(manifest.get("data") or {}) + len(manifest.get("binaryData") or {})
    return [str(count)] + ([manifest.get("type", "Opaque")] if item["kind"] == "Secret" else [])


COLUMNS: dict[str, tuple[list[str], Callable[[Item], list[str]]]] = {
    "Canary": (["STATUS", "WEIGHT", "FAILEDCHECKS", "LASTTRANSITION"], _canary_row),
    "Deployment": (["READY", "UP-TO-DATE", "AVAILABLE", "REVISION"], _deployment_row),
    "Service": (["SELECTOR", "PORTS"], _service_row),
    "VirtualService": (["GATEWAYS", "HOSTS", "ROUTES"], _virtual_service_row),
    "HTTPRoute": (["PARENTS", "HOSTNAMES", "BACKENDS"], _http_route_row),
    "ConfigMap": (["DATA"], _config_row),
    "Secret": (["TYPE", "DATA"], lambda item: _config_row(item)[::-1]),
}


OUTPUTS = ("table", "json", "yaml")


def _redacted(item: Item) -> Item:
    from coalmine.api.redaction import redact_object

    return {**item, "manifest": redact_object(item["kind"], item["manifest"])}


def _dump(items: list[Item], output: str) -> str:
    if output == "json":
        return json.dumps(items, indent=2)
    import yaml

    return yaml.safe_dump(items, sort_keys=False).rstrip()


def get(
    resource: Annotated[
        str,
        typer.Argument(
            help="canaries, deployments, services, virtualservices, gateways, destinationrules,"
            " httproutes, gateways.gateway.networking.k8s.io (the Gateway API's; `gateways`"
            " are Istio's), referencegrants, configmaps, secrets, metrictemplates or"
            " alertproviders."
        ),
    ],
    state_dir: StateDir,
    namespace: Namespace = "default",
    all_namespaces: AllNamespaces = False,
    output: Annotated[str, typer.Option("-o", "--output", help="table, json or yaml.")] = "table",
    show_secrets: Annotated[
        bool,
        typer.Option(
            "--show-secrets",
            help="Print alert and metric provider addresses and headers as stored.",
        ),
    ] = False,
) -> None:
    """List objects of the local runtime.

    Objects a canary generated (the primary Deployment, its Services and VirtualService or
    HTTPRoute) show the canary as their OWNER.

    Example:  coalmine get canaries -n go-demo-7
    """
    kind = KINDS.get(resource.lower())
    if kind is None:
        from coalmine.errors import CoalmineError

        raise CoalmineError(
            f"unknown resource {resource!r}; use one of {', '.join(sorted(set(KINDS)))}"
        )
    if output not in OUTPUTS:
        from coalmine.errors import CoalmineError

        raise CoalmineError(f"-o {output}: use one of {', '.join(OUTPUTS)}")
    local = client(state_dir)
    items = local.objects(kind, None if all_namespaces else namespace)
    if output != "table":
        typer.echo(_dump(items if show_secrets else [_redacted(i) for i in items], output))
        return
    if not items:
        others = {i["namespace"] for i in local.objects(kind)} if not all_namespaces else set()
        hint = f"; found in {', '.join(sorted(others))} (use -n or -A)" if others else ""
        typer.echo(f"No {resource} found in namespace {namespace}{hint}", err=True)
        return
    headers, row = COLUMNS.get(kind, ([], lambda _: []))
    prefix = ["NAMESPACE"] if all_namespaces else []
    rows = [
        ([i["namespace"]] if all_namespaces else [])
        + [i["name"], *_columns(i, row, len(headers)), _owner(i)]
        for i in items
    ]
    typer.echo(table([*prefix, "NAME", *headers, "OWNER"], rows))
    for item in items:
        if item.get("quarantined"):
            typer.secho(_quarantine_note(item), fg=typer.colors.RED, err=True)


def _columns(item: Item, row: Callable[[Item], list[str]], count: int) -> list[str]:
    """A quarantined object may not have the fields the columns read: leave them blank."""
    return ["-"] * count if item.get("quarantined") else row(item)


def _owner(item: Item) -> str:
    return "QUARANTINED" if item.get("quarantined") else item.get("owner") or ""


def _quarantine_note(item: Item) -> str:
    """How a quarantined object is shown: what is wrong and how to fix it."""
    found = item["quarantined"]
    return (
        f"{item['kind'].lower()}/{item['name']} is quarantined (not served): {found['reason']}\n"
        f"  fix: {found['fix']}"
    )
