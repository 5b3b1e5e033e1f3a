"""MetricTemplate: a named, reusable query that a Canary's metric points at."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from coalmine.api.addresses import web_address
from coalmine.api.common import LocalObjectReference, Model, ObjectMeta

__all__ = ["MetricTemplate", "MetricTemplateProvider", "MetricTemplateSpec"]


class MetricTemplateProvider(Model):
    type: Literal["prometheus"] = "prometheus"
    """Only Prometheus is supported; other Flagger providers are rejected by name."""
    address: str | None = None
    """Prometheus base URL; defaults to the controller's metrics server."""
    secret_ref: LocalObjectReference | None = None
    """Credentials: a Secret (Kubernetes) with token, or username and password."""
    insecure_skip_verify: bool = False
    headers: dict[str, list[str]] | None = None
    """Extra HTTP headers sent with every query: each name with a list of values, as in
    Flagger's CRD (`X-Scope-OrgID: [tenant-1]`); several values are sent joined by ", "."""
    region: str | None = None
    """Flagger's, for its CloudWatch provider; Prometheus ignores it, as in Flagger."""

    @property
    def header_values(self) -> dict[str, str]:
        """The headers to send, one value per name."""
        return {name: ", ".join(values) for name, values in (self.headers or {}).items()}

    _web_address = field_validator("address")(web_address)


class MetricTemplateSpec(Model):
    provider: MetricTemplateProvider = Field(default_factory=MetricTemplateProvider)
    query: Annotated[str, Field(min_length=1)]


class MetricTemplate(Model):
    api_version: str
    kind: Literal["MetricTemplate"] = "MetricTemplate"
    metadata: ObjectMeta
    spec: MetricTemplateSpec
