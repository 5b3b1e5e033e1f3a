"""What a canary needs in a cluster, checked through kr8s: the cluster answers, Istio's
CRDs and coalmine's are installed, the namespace gets sidecars and its pods have them,
Prometheus answers and holds Istio's request metrics, the controller is available."""

from __future__ import annotations

from coalmine.doctor.checks import Check
from coalmine.errors import CoalmineError
from coalmine.kube.adapters.client import KubeClient, Obj
from coalmine.kube.adapters.resources import CRDS, DEPLOYMENTS, NAMESPACES, PODS

__all__ = ["ISTIO_CRDS", "kube_checks"]

ISTIO_CRDS = (
    "virtualservices.networking.istio.io",
    "destinationrules.networking.istio.io",
    "gateways.networking.istio.io",
)
COALMINE_CRDS = ("canaries.coalmine.dev", "metrictemplates.coalmine.dev")
CONTROLLER_SELECTOR = "app.kubernetes.io/name=coalmine"
SIDECAR = "istio-proxy"


async def kube_checks(client: KubeClient, namespace: str, metrics_server: str) -> list[Check]:
    reachable = await _reachable(client)
    if reachable.state == "fail":
        return [reachable]
    return [
        reachable,
        await _crds(client, "Istio installed", ISTIO_CRDS, "install Istio: istioctl install -y"),
        await _crds(client, "coalmine CRDs installed", COALMINE_CRDS, "coalmine install"),
        await _injection(client, namespace),
        await _sidecars(client, namespace),
        await _prometheus(metrics_server),
        await _controller(client),
    ]


async def _reachable(client: KubeClient) -> Check:
    name = "cluster reachable"
    server = getattr(client.api.auth, "server", "?")
    try:
        version = await client.api.version()
    except Exception as error:  # kr8s raises httpx, OS and its own errors here
        return Check.fail(
            name,
            f"{server} did not answer: {error}",
            "check the kubeconfig (kubectl cluster-info), --context or --kubeconfig",
        )
    return Check.ok(name, f"Kubernetes {version.get('gitVersion', '?')} at {server}")


async def _crds(client: KubeClient, name: str, crds: tuple[str, ...], fix: str) -> Check:
    try:
        missing = [crd for crd in crds if await client.get(CRDS, crd, None) is None]
    except CoalmineError as error:
        return Check.fail(name, f"cannot read CRDs: {error}", "grant get on CRDs, or ask an admin")
    if missing:
        return Check.fail(name, f"missing CRDs: {', '.join(missing)}", fix)
    return Check.ok(name, ", ".join(crds))


async def _injection(client: KubeClient, namespace: str) -> Check:
    name = f"namespace {namespace} labelled for sidecar injection"
    try:
        found = await client.get(NAMESPACES, namespace, None)
    except CoalmineError as error:
        return Check.fail(name, f"cannot read it: {error}", "grant get on namespaces")
    fix = (
        f"kubectl label namespace {namespace} istio-injection=enabled --overwrite,"
        f" then kubectl rollout restart deployment -n {namespace}"
    )
    if found is None:
        return Check.fail(
            name, "the namespace does not exist", f"kubectl create namespace {namespace}; {fix}"
        )
    labels = (found.get("metadata") or {}).get("labels") or {}
    if labels.get("istio-injection") == "enabled" or "istio.io/rev" in labels:
        shown = "istio-injection=enabled" if "istio.io/rev" not in labels else "istio.io/rev"
        return Check.ok(name, shown)
    return Check.fail(name, "no istio-injection=enabled or istio.io/rev label", fix)


async def _sidecars(client: KubeClient, namespace: str) -> Check:
    name = f"pods in {namespace} carry Istio sidecars"
    try:
        pods = await client.list(PODS, namespace)
    except CoalmineError as error:
        return Check.fail(name, f"cannot list pods: {error}", "grant list on pods")
    without = [p["metadata"]["name"] for p in pods if not _has_sidecar(p)]
    if without:
        return Check.fail(
            name,
            f"{len(without)} of {len(pods)} without {SIDECAR}: {', '.join(without[:5])}",
            "label the namespace for injection, then"
            f" kubectl rollout restart deployment -n {namespace}",
        )
    return Check.ok(name, f"{len(pods)} pods" if pods else "no pods yet")


def _has_sidecar(pod: Obj) -> bool:
    spec = pod.get("spec") or {}
    containers = (spec.get("containers") or []) + (spec.get("initContainers") or [])
    return any(c.get("name") == SIDECAR for c in containers)


async def _prometheus(server: str) -> Check:
    from coalmine.metrics.providers.base import ProviderSettings
    from coalmine.metrics.providers.prometheus import PrometheusProvider

    name = "Prometheus holds istio_requests_total"
    provider = PrometheusProvider(ProviderSettings(server, timeout=5.0))
    try:
        result = await provider.instant("count(istio_requests_total)")
    except CoalmineError as error:
        return Check.fail(
            name,
            f"{server}: {error}",
            "give its address with --metrics-server (or COALMINE_PROMETHEUS_URL); from outside"
            " the cluster: kubectl -n istio-system port-forward svc/prometheus 9090, then"
            " --metrics-server http://127.0.0.1:9090",
        )
    if not result.series:
        return Check.fail(
            name,
            f"{server} answers but has no istio_requests_total series",
            "make Prometheus scrape the sidecars (Istio's prometheus addon does), and send"
            " some traffic through the mesh",
        )
    points = result.series[0].points
    count = int(points[-1].value) if points else 0
    return Check.ok(name, f"{server}: {count} istio_requests_total series")


async def _controller(client: KubeClient) -> Check:
    name = "coalmine controller running"
    try:
        found = await client.list(DEPLOYMENTS, None, label_selector=CONTROLLER_SELECTOR)
    except CoalmineError as error:
        return Check.fail(name, f"cannot list deployments: {error}", "grant list on deployments")
    if not found:
        return Check.fail(name, f"no Deployment labelled {CONTROLLER_SELECTOR}", "coalmine install")
    for deployment in found:
        available = int((deployment.get("status") or {}).get("availableReplicas") or 0)
        meta = deployment["metadata"]
        if available > 0:
            return Check.ok(name, f"{meta['namespace']}/{meta['name']}, {available} available")
    meta = found[0]["metadata"]
    return Check.fail(
        name,
        f"{meta['namespace']}/{meta['name']} has no available replica",
        f"kubectl -n {meta['namespace']} describe deployment {meta['name']};"
        f" kubectl -n {meta['namespace']} logs deployment/{meta['name']}",
    )
