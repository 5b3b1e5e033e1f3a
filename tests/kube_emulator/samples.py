"""Manifests the emulator's tests share: a Widget CRD with a schema that uses every rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

GROUP = "test.coalmine.dev"
MANIFESTS = Path(__file__).parent / "manifests"

WIDGET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["spec"],
    "properties": {
        "spec": {
            "type": "object",
            "required": ["analysis"],
            "properties": {
                "analysis": {
                    "type": "object",
                    "properties": {
                        "stepWeight": {"type": "integer", "minimum": 0, "maximum": 100},
                        "maxWeight": {"type": "integer", "maximum": 100, "exclusiveMaximum": True},
                        "interval": {"type": "string", "pattern": "^[0-9]+(s|m)$", "default": "1m"},
                        "threshold": {"type": "integer", "default": 5},
                    },
                },
                "mode": {"type": "string", "enum": ["canary", "blueGreen"]},
                "name": {"type": "string", "minLength": 2, "maxLength": 8},
                "tags": {
                    "type": "array",
                    "maxItems": 2,
                    "items": {"type": "string", "minLength": 1},
                },
                "port": {"x-kubernetes-int-or-string": True},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "closed": {
                    "type": "object",
                    "properties": {"a": {"type": "string"}},
                    "additionalProperties": False,
                },
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "note": {"type": "string", "nullable": True},
            },
        },
        "status": {
            "type": "object",
            "properties": {
                "phase": {"type": "string"},
                "observedGeneration": {"type": "integer"},
            },
        },
    },
}


def widget_crd(
    *, scope: str = "Namespaced", versions: tuple[str, ...] = ("v1",), status: bool = True
) -> dict[str, Any]:
    """The Widget CRD; the first version is the storage version."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": scope,
            "names": {
                "kind": "Widget",
                "plural": "widgets",
                "singular": "widget",
                "shortNames": ["wd"],
            },
            "versions": [
                {
                    "name": version,
                    "served": True,
                    "storage": n == 0,
                    "schema": {"openAPIV3Schema": WIDGET_SCHEMA},
                    **({"subresources": {"status": {}}} if status else {}),
                }
                for n, version in enumerate(versions)
            ],
        },
    }


def widget(name: str, step_weight: int = 10, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": {"analysis": {"stepWeight": step_weight}, **spec},
    }


def deployment(name: str, image: str = "demo:1", replicas: int = 2) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {"name": "app", "image": image, "ports": [{"containerPort": 8080}]}
                    ]
                },
            },
        },
    }


def kopf_peering_documents() -> list[dict[str, Any]]:
    with (MANIFESTS / "kopf-peering.yaml").open() as stream:
        return [doc for doc in yaml.safe_load_all(stream) if doc]
