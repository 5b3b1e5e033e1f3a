"""The Kubernetes resource types the operator reads and writes, by apiVersion and plural.

One place for the REST coordinates, so that an Istio or Kubernetes API version is
changed once. Istio's `networking.istio.io/v1beta1` is served by every Istio since
1.5 (Flagger writes the same version).
"""

from __future__ import annotations

from dataclasses import dataclass

from coalmine.api.common import COALMINE_GROUP, FLAGGER_GROUP

__all__ = [
    "ALERT_PROVIDERS",
    "CANARIES",
    "CONFIG_MAPS",
    "CRDS",
    "DEPLOYMENTS",
    "DESTINATION_RULES",
    "EVENTS",
    "FLAGGER_ALERT_PROVIDERS",
    "FLAGGER_CANARIES",
    "FLAGGER_METRIC_TEMPLATES",
    "GATEWAYS",
    "GATEWAY_API_GATEWAYS",
    "HPAS",
    "HTTP_ROUTES",
    "LEASES",
    "METRIC_TEMPLATES",
    "NAMESPACES",
    "PODS",
    "SECRETS",
    "SERVICES",
    "VIRTUAL_SERVICES",
    "Kind",
    "canaries_of",
]

ISTIO_NETWORKING = "networking.istio.io/v1beta1"


@dataclass(frozen=True)
class Kind:
    """A resource type: where its objects live in the REST API."""

    api_version: str
    plural: str
    kind: str

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]

    def describe(self, name: str, namespace: str | None) -> str:
        """How messages name one object: "deployment podinfo-primary in test"."""
        where = f" in {namespace}" if namespace else ""
        return f"{self.kind.lower()} {name}{where}"


DEPLOYMENTS = Kind("apps/v1", "deployments", "Deployment")
SERVICES = Kind("v1", "services", "Service")
SECRETS = Kind("v1", "secrets", "Secret")
CONFIG_MAPS = Kind("v1", "configmaps", "ConfigMap")
EVENTS = Kind("v1", "events", "Event")
HPAS = Kind("autoscaling/v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler")
LEASES = Kind("coordination.k8s.io/v1", "leases", "Lease")
VIRTUAL_SERVICES = Kind(ISTIO_NETWORKING, "virtualservices", "VirtualService")
DESTINATION_RULES = Kind(ISTIO_NETWORKING, "destinationrules", "DestinationRule")
GATEWAYS = Kind(ISTIO_NETWORKING, "gateways", "Gateway")
HTTP_ROUTES = Kind("gateway.networking.k8s.io/v1", "httproutes", "HTTPRoute")
GATEWAY_API_GATEWAYS = Kind("gateway.networking.k8s.io/v1", "gateways", "Gateway")
"""The Gateway API's route, written by the gatewayapi router."""
NAMESPACES = Kind("v1", "namespaces", "Namespace")
PODS = Kind("v1", "pods", "Pod")
CRDS = Kind("apiextensions.k8s.io/v1", "customresourcedefinitions", "CustomResourceDefinition")

CANARIES = Kind(f"{COALMINE_GROUP}/v1beta1", "canaries", "Canary")
METRIC_TEMPLATES = Kind(f"{COALMINE_GROUP}/v1beta1", "metrictemplates", "MetricTemplate")
ALERT_PROVIDERS = Kind(f"{COALMINE_GROUP}/v1beta1", "alertproviders", "AlertProvider")
FLAGGER_CANARIES = Kind(f"{FLAGGER_GROUP}/v1beta1", "canaries", "Canary")
FLAGGER_METRIC_TEMPLATES = Kind(f"{FLAGGER_GROUP}/v1beta1", "metrictemplates", "MetricTemplate")
FLAGGER_ALERT_PROVIDERS = Kind(f"{FLAGGER_GROUP}/v1beta1", "alertproviders", "AlertProvider")


def canaries_of(api_version: str) -> Kind:
    """The Canary resource a canary was read from (coalmine's group or Flagger's)."""
    return FLAGGER_CANARIES if api_version == FLAGGER_CANARIES.api_version else CANARIES
