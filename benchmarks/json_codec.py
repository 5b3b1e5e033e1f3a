"""The read cache's JSON work per Deployment, with the standard library and with orjson.

Run: .venv/bin/python -m benchmarks.json_codec [--objects 5000]

Per watch event the cache decodes the event and encodes the object to hold it; per read
it decodes the text held (`kube.adapters.cache`). Each step is timed with both codecs
(best of five rounds, microseconds per object), then the memory that `--objects`
Deployments take when held as text: the standard library's, orjson's bytes as it
returns them, and orjson's bytes copied (what the cache holds). The Deployment is the
workshop's podinfo primary as a real API server serves it (status, an owner reference).
"""

from __future__ import annotations

import argparse
import json
import timeit
import tracemalloc
from collections.abc import Callable
from typing import Any

import orjson

CONTAINER = {
    "name": "podinfod",
    "image": "ghcr.io/stefanprodan/podinfo:6.0.1",
    "imagePullPolicy": "IfNotPresent",
    "ports": [
        {"name": "http", "containerPort": 9898, "protocol": "TCP"},
        {"name": "http-metrics", "containerPort": 9797, "protocol": "TCP"},
    ],
    "command": ["./podinfo", "--port=9898", "--port-metrics=9797", "--level=info"],
    "env": [{"name": "PODINFO_UI_COLOR", "value": "#34577c"}],
    "readinessProbe": {
        "exec": {"command": ["podcli", "check", "http", "localhost:9898/readyz"]},
        "initialDelaySeconds": 5,
        "timeoutSeconds": 5,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    },
    "resources": {
        "limits": {"cpu": "2", "memory": "512Mi"},
        "requests": {"cpu": "100m", "memory": "64Mi"},
    },
    "terminationMessagePath": "/dev/termination-log",
    "terminationMessagePolicy": "File",
}


def deployment(n: int) -> dict[str, Any]:
    condition = {
        "status": "True",
        "lastUpdateTime": "2026-12-04T10:00:00Z",
        "lastTransitionTime": "2026-12-04T10:00:00Z",
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": f"podinfo-{n}-primary",
            "namespace": "test",
            "uid": f"0b8e1c2a-5f1e-4b6d-9b8a-{n:012d}",
            "resourceVersion": str(100_000 + n),
            "generation": 4,
            "labels": {"app": f"podinfo-{n}-primary"},
            "annotations": {"deployment.kubernetes.io/revision": "3"},
            "ownerReferences": [
                {
                    "apiVersion": "flagger.app/v1beta1",
                    "kind": "Canary",
                    "name": f"podinfo-{n}",
                    "uid": f"1c2d3e4f-5f1e-4b6d-9b8a-{n:012d}",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": f"podinfo-{n}-primary"}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
            "progressDeadlineSeconds": 600,
            "revisionHistoryLimit": 10,
            "template": {
                "metadata": {"labels": {"app": f"podinfo-{n}-primary"}},
                "spec": {
                    "containers": [CONTAINER],
                    "restartPolicy": "Always",
                    "terminationGracePeriodSeconds": 30,
                    "dnsPolicy": "ClusterFirst",
                    "securityContext": {},
                    "schedulerName": "default-scheduler",
                },
            },
        },
        "status": {
            "observedGeneration": 4,
            "replicas": 2,
            "updatedReplicas": 2,
            "readyReplicas": 2,
            "availableReplicas": 2,
            "conditions": [
                {**condition, "type": "Available", "reason": "MinimumReplicasAvailable"},
                {**condition, "type": "Progressing", "reason": "NewReplicaSetAvailable"},
            ],
        },
    }


def per_call(step: Callable[[], object]) -> float:
    """Microseconds per call, best of five rounds."""
    rounds = timeit.repeat(step, number=2_000, repeat=5)
    return min(rounds) / 2_000 * 1e6


def held_bytes(encode: Callable[[dict[str, Any]], object], count: int) -> int:
    """Bytes allocated to hold `count` Deployments encoded by `encode`."""
    objects = [deployment(n) for n in range(count)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        held = [encode(obj) for obj in objects]
        size = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    del held
    return size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=5_000, help="Deployments held")
    count = parser.parse_args().objects

    obj = deployment(0)
    line = json.dumps({"type": "MODIFIED", "object": obj}).encode()
    text, raw = json.dumps(obj, separators=(",", ":")), orjson.dumps(obj)
    steps = {
        "decode a watch event": (lambda: json.loads(line), lambda: orjson.loads(line)),
        "encode the object to hold it": (
            lambda: json.dumps(obj, separators=(",", ":")),
            lambda: bytes(memoryview(orjson.dumps(obj))),
        ),
        "decode the text held (a read)": (lambda: json.loads(text), lambda: orjson.loads(raw)),
    }
    print(f"one Deployment: {len(line)} bytes as a watch event, {len(text)} held")
    print(f"{'step':<34}{'json µs':>10}{'orjson µs':>11}{'ratio':>8}")
    for name, (standard, fast) in steps.items():
        slow_us, fast_us = per_call(standard), per_call(fast)
        print(f"{name:<34}{slow_us:>10.1f}{fast_us:>11.1f}{slow_us / fast_us:>7.1f}x")

    mib = 1024 * 1024
    print(f"\n{count} Deployments held as text:")
    print(f"  json (str)                      {held_bytes(_stdlib, count) / mib:7.1f} MiB")
    print(f"  orjson's bytes as returned      {held_bytes(orjson.dumps, count) / mib:7.1f} MiB")
    print(f"  orjson's bytes copied (held)    {held_bytes(_copied, count) / mib:7.1f} MiB")


def _stdlib(obj: dict[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _copied(obj: dict[str, Any]) -> bytes:
    return bytes(memoryview(orjson.dumps(obj)))


if __name__ == "__main__":
    main()
