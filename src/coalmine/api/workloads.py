"""Deployment and Service, as the local runtime understands them.

The shape is Kubernetes' (apps/v1, v1), restricted to what a local process can honour.
Fields Kubernetes has but the local runtime cannot honour are rejected by name
(see `LOCAL_ONLY_NOTE`), so a manifest never half-works.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, model_validator

from coalmine.api.common import Model, ObjectMeta

__all__ = [
    "ConfigSource",
    "Container",
    "ContainerPort",
    "Deployment",
    "DeploymentSpec",
    "EnvFromSource",
    "EnvVar",
    "EnvVarSource",
    "HTTPGetAction",
    "KeySelector",
    "PodTemplate",
    "Probe",
    "Service",
    "ServicePort",
    "ServiceSpec",
    "pod_template_hash",
]

PortNumber = Annotated[int, Field(ge=1, le=65535)]


class LocalModel(Model):
    """A model whose Kubernetes-only fields get a clear "not supported locally" message."""

    unsupported: ClassVar[frozenset[str]] = frozenset()
    """Field names Kubernetes accepts here that the local runtime cannot honour."""


class KeySelector(LocalModel):
    """`configMapKeyRef`/`secretKeyRef`: one key of a ConfigMap or Secret in the namespace."""

    name: Annotated[str, Field(min_length=1)]
    key: Annotated[str, Field(min_length=1)]
    optional: bool | None = None
    """True: a missing object or key leaves the variable unset instead of keeping the
    replica from starting."""


class EnvVarSource(LocalModel):
    unsupported = frozenset({"fieldRef", "resourceFieldRef", "fileKeyRef"})
    config_map_key_ref: KeySelector | None = None
    secret_key_ref: KeySelector | None = None

    @model_validator(mode="after")
    def _one_source(self) -> EnvVarSource:
        if (self.config_map_key_ref is None) == (self.secret_key_ref is None):
            raise ValueError("set exactly one of configMapKeyRef and secretKeyRef")
        return self


class EnvVar(LocalModel):
    name: Annotated[str, Field(min_length=1)]
    value: str = ""
    value_from: EnvVarSource | None = None

    @model_validator(mode="after")
    def _value_or_source(self) -> EnvVar:
        if self.value and self.value_from is not None:
            raise ValueError("set value or valueFrom, not both")
        return self


class ConfigSource(LocalModel):
    """`envFrom[].configMapRef`/`secretRef`: every key of the object becomes a variable."""

    name: Annotated[str, Field(min_length=1)]
    optional: bool | None = None


class EnvFromSource(LocalModel):
    prefix: str = ""
    config_map_ref: ConfigSource | None = None
    secret_ref: ConfigSource | None = None

    @model_validator(mode="after")
    def _one_source(self) -> EnvFromSource:
        if (self.config_map_ref is None) == (self.secret_ref is None):
            raise ValueError("set exactly one of configMapRef and secretRef")
        return self


class KeyToPath(LocalModel):
    """`items[]`: one key as one file, at `path` inside the volume."""

    unsupported = frozenset({"mode"})
    key: Annotated[str, Field(min_length=1)]
    path: Annotated[str, Field(min_length=1)]

    @model_validator(mode="after")
    def _relative(self) -> KeyToPath:
        parts = self.path.split("/")
        if self.path.startswith("/") or ".." in parts:
            raise ValueError(f"path {self.path!r}: must be relative, without '..'")
        return self


class ConfigMapVolume(LocalModel):
    unsupported = frozenset({"defaultMode"})
    name: Annotated[str, Field(min_length=1)]
    items: list[KeyToPath] | None = None
    """Only these keys, at these paths; every key as a file of its name otherwise."""
    optional: bool | None = None


class SecretVolume(LocalModel):
    unsupported = frozenset({"defaultMode"})
    secret_name: Annotated[str, Field(min_length=1)]
    items: list[KeyToPath] | None = None
    optional: bool | None = None


class ProjectedSource(LocalModel):
    unsupported = frozenset({"downwardAPI", "serviceAccountToken", "clusterTrustBundle"})
    config_map: ConfigMapVolume | None = None
    secret: ConfigMapVolume | None = None
    """As a projected source, a Secret is named by `name` (not `secretName`)."""

    @model_validator(mode="after")
    def _one_source(self) -> ProjectedSource:
        if (self.config_map is None) == (self.secret is None):
            raise ValueError("set exactly one of configMap and secret")
        return self


class ProjectedVolume(LocalModel):
    unsupported = frozenset({"defaultMode"})
    sources: Annotated[list[ProjectedSource], Field(min_length=1)]


class Volume(LocalModel):
    """A volume of ConfigMap or Secret files (the only kinds a local process can get)."""

    unsupported = frozenset(
        {"emptyDir", "hostPath", "persistentVolumeClaim", "downwardAPI", "csi", "ephemeral"}
    )
    name: Annotated[str, Field(min_length=1, max_length=63)]
    config_map: ConfigMapVolume | None = None
    secret: SecretVolume | None = None
    projected: ProjectedVolume | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Volume:
        given = [s for s in (self.config_map, self.secret, self.projected) if s is not None]
        if len(given) != 1:
            raise ValueError("set exactly one of configMap, secret and projected")
        return self


class VolumeMount(LocalModel):
    unsupported = frozenset({"subPath", "subPathExpr", "mountPropagation", "recursiveReadOnly"})
    name: Annotated[str, Field(min_length=1)]
    mount_path: Annotated[str, Field(min_length=1)]
    """Recorded, not mounted: the process finds the files through `VOLUME_<NAME>`."""
    read_only: bool | None = None


class ContainerPort(LocalModel):
    unsupported = frozenset({"hostPort", "hostIP"})
    container_port: PortNumber
    name: str | None = None
    protocol: Literal["TCP"] = "TCP"


class HTTPGetAction(LocalModel):
    unsupported = frozenset({"host", "scheme", "httpHeaders"})
    path: str = "/"
    port: int | str


class Probe(LocalModel):
    unsupported = frozenset({"exec", "tcpSocket", "grpc", "terminationGracePeriodSeconds"})
    http_get: HTTPGetAction
    initial_delay_seconds: Annotated[int, Field(ge=0)] = 0
    period_seconds: Annotated[int, Field(ge=1)] = 10
    timeout_seconds: Annotated[int, Field(ge=1)] = 1
    success_threshold: Annotated[int, Field(ge=1)] = 1
    failure_threshold: Annotated[int, Field(ge=1)] = 3


class Container(LocalModel):
    unsupported = frozenset(
        {
            "resources",
            "volumeDevices",
            "securityContext",
            "imagePullPolicy",
            "lifecycle",
            "stdin",
            "tty",
            "terminationMessagePath",
            "terminationMessagePolicy",
            "resizePolicy",
            "restartPolicy",
        }
    )
    name: Annotated[str, Field(min_length=1)]
    image: str | None = None
    """Recorded as part of the revision; local processes do not pull images."""
    command: Annotated[list[str], Field(min_length=1)]
    """The program to run: required locally, since there is no image entry point."""
    args: list[str] = Field(default_factory=list)
    env: list[EnvVar] = Field(default_factory=list)
    env_from: list[EnvFromSource] = Field(default_factory=list)
    volume_mounts: list[VolumeMount] = Field(default_factory=list)
    ports: list[ContainerPort] = Field(default_factory=list)
    readiness_probe: Probe | None = None
    liveness_probe: Probe | None = None
    startup_probe: Probe | None = None
    """Until it passes, readiness and liveness are not probed (a slow start is not a
    liveness failure); after failureThreshold failures the process is restarted."""
    working_dir: str | None = None


class PodSpec(LocalModel):
    unsupported = frozenset(
        {
            "initContainers",
            "serviceAccountName",
            "serviceAccount",
            "nodeSelector",
            "affinity",
            "tolerations",
            "securityContext",
            "imagePullSecrets",
            "hostNetwork",
            "dnsPolicy",
            "priorityClassName",
            "topologySpreadConstraints",
        }
    )
    containers: Annotated[list[Container], Field(min_length=1, max_length=1)]
    """Exactly one container: each replica is one local process."""
    volumes: list[Volume] = Field(default_factory=list)
    termination_grace_period_seconds: Annotated[int, Field(ge=0)] = 30

    @model_validator(mode="after")
    def _mounts_name_volumes(self) -> PodSpec:
        names = [v.name for v in self.volumes]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"volumes {duplicated} are declared more than once")
        for mount in self.containers[0].volume_mounts:
            if mount.name not in names:
                raise ValueError(
                    f"volumeMounts {mount.name!r}: no volume of that name; declare it under"
                    " spec.volumes"
                )
        return self


class PodTemplateMeta(LocalModel):
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class PodTemplate(LocalModel):
    metadata: PodTemplateMeta = Field(default_factory=PodTemplateMeta)
    spec: PodSpec


class LabelSelector(LocalModel):
    unsupported = frozenset({"matchExpressions"})
    match_labels: dict[str, str]


class DeploymentSpec(LocalModel):
    unsupported = frozenset({"paused", "revisionHistoryLimit"})
    replicas: Annotated[int, Field(ge=0)] = 1
    selector: LabelSelector
    template: PodTemplate
    strategy: dict[str, Any] | None = None
    """Accepted for compatibility; locally every update is a surge-one rolling update."""
    min_ready_seconds: Annotated[int, Field(ge=0)] = 0
    progress_deadline_seconds: Annotated[int, Field(ge=1)] = 600

    @model_validator(mode="after")
    def _selector_matches_template(self) -> DeploymentSpec:
        labels = self.template.metadata.labels
        missing = {k: v for k, v in self.selector.match_labels.items() if labels.get(k) != v}
        if missing:
            raise ValueError(
                f"selector.matchLabels {missing} must match template.metadata.labels {labels}"
            )
        return self


class Deployment(LocalModel):
    api_version: Literal["apps/v1"] = "apps/v1"
    kind: Literal["Deployment"] = "Deployment"
    metadata: ObjectMeta
    spec: DeploymentSpec
    status: dict[str, Any] | None = None
    """Written by the runtime, ignored on apply."""


def pod_template_hash(template: PodTemplate) -> str:
    """The revision of a pod template: equal templates, equal revisions."""
    encoded = json.dumps(template.to_manifest(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(encoded.encode()).hexdigest()[:16]


class ServicePort(LocalModel):
    unsupported = frozenset({"nodePort", "appProtocol"})
    name: str | None = None
    port: PortNumber
    target_port: int | str | None = None
    """A container port number or name; defaults to `port`."""
    protocol: Literal["TCP"] = "TCP"


class ServiceSpec(LocalModel):
    unsupported = frozenset(
        {
            "clusterIP",
            "clusterIPs",
            "externalIPs",
            "externalName",
            "loadBalancerIP",
            "sessionAffinity",
            "externalTrafficPolicy",
            "ipFamilies",
            "ipFamilyPolicy",
        }
    )
    selector: dict[str, str]
    ports: Annotated[list[ServicePort], Field(min_length=1)]
    type: Literal["ClusterIP"] = "ClusterIP"


class Service(LocalModel):
    api_version: Literal["v1"] = "v1"
    kind: Literal["Service"] = "Service"
    metadata: ObjectMeta
    spec: ServiceSpec
