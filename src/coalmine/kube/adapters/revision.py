"""The revision of a Deployment: a stable hash of its pod template.

The API server fills in defaults when a Deployment is written (imagePullPolicy,
terminationMessagePath, probe periods, `protocol: TCP`, ...). The hash leaves out
every field whose value is the documented default, and empty values, so that the
same manifest has the same revision whether or not a server defaulted it (the
emulator does not default; a real cluster does), and a new server version that
defaults one more field does not start a canary.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["pod_template_revision", "without_defaults"]

POD_DEFAULTS: dict[str, Any] = {
    "restartPolicy": "Always",
    "terminationGracePeriodSeconds": 30,
    "dnsPolicy": "ClusterFirst",
    "schedulerName": "default-scheduler",
    "enableServiceLinks": True,
    "preemptionPolicy": "PreemptLowerPriority",
    "priority": 0,
}
CONTAINER_DEFAULTS: dict[str, Any] = {
    "terminationMessagePath": "/dev/termination-log",
    "terminationMessagePolicy": "File",
}
PROBE_DEFAULTS: dict[str, Any] = {
    "timeoutSeconds": 1,
    "periodSeconds": 10,
    "successThreshold": 1,
    "failureThreshold": 3,
}
PORT_DEFAULTS: dict[str, Any] = {"protocol": "TCP"}
HTTP_GET_DEFAULTS: dict[str, Any] = {"scheme": "HTTP"}
CONTAINER_LISTS = ("containers", "initContainers")
PROBES = ("livenessProbe", "readinessProbe", "startupProbe")


def pod_template_revision(template: dict[str, Any]) -> str:
    """16 hex digits; equal for templates that differ only in defaulted or empty fields."""
    canonical = json.dumps(without_defaults(template), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def without_defaults(template: dict[str, Any]) -> dict[str, Any]:
    """The template with server defaults and empty values left out (a copy)."""
    spec = _drop(template.get("spec") or {}, POD_DEFAULTS)
    for key in CONTAINER_LISTS:
        if key in spec:
            spec[key] = [_container(c) for c in spec[key]]
    metadata = {
        k: v for k, v in (template.get("metadata") or {}).items() if k != "creationTimestamp"
    }
    pruned: dict[str, Any] = _pruned({"metadata": metadata, "spec": spec})
    return pruned


def _container(container: dict[str, Any]) -> dict[str, Any]:
    result = _drop(container, CONTAINER_DEFAULTS)
    if result.get("imagePullPolicy") == _default_pull_policy(str(result.get("image", ""))):
        del result["imagePullPolicy"]
    if "ports" in result:
        result["ports"] = [_drop(port, PORT_DEFAULTS) for port in result["ports"]]
    for probe in PROBES:
        if probe in result:
            result[probe] = _probe(result[probe])
    return result


def _default_pull_policy(image: str) -> str:
    """Always for `:latest` or no tag, else IfNotPresent (a digest counts as a tag)."""
    last = image.rpartition("/")[2]
    return "Always" if last.endswith(":latest") or ":" not in last else "IfNotPresent"


def _probe(probe: dict[str, Any]) -> dict[str, Any]:
    result = _drop(probe, PROBE_DEFAULTS)
    if "httpGet" in result:
        result["httpGet"] = _drop(result["httpGet"], HTTP_GET_DEFAULTS)
    return result


def _drop(values: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k not in defaults or defaults[k] != v}


def _pruned(value: Any) -> Any:
    """Empty maps, lists and None removed, recursively ({} and [] mean unset in Kubernetes)."""
    if isinstance(value, dict):
        pruned = {k: _pruned(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_pruned(item) for item in value]
    return value
