"""The emulator's work for a Canary status write, each part done the long way and the short.

Run: .venv/bin/python -m benchmarks.emulator_writes [--writes 2000] [--rounds 3]

A status write changes only the status, and the emulator admits the whole object as
kube-apiserver does. The shortcuts keep the result and cut the work: the schema steps
(prune, default, validate, CEL) skip a root field equal to the stored one admitted
under the same schema (`schema.admit(..., admitted=old)`); the field manager walks only
the status (`fieldmanager._writable_leaves`); copies and answers are made by orjson
(`storage.clone`, `storage.encode`) instead of a Python walk and the standard library's
encoder. Each is timed against the long way on the same Canary (the operator
benchmark's, with the status a progressing tick writes), in turns, several rounds in
one run: compare the ratios, not the times.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from benchmarks.operator_scale import NAMESPACE, seed
from tests.kube_emulator import KubeEmulator, fieldmanager, schema
from tests.kube_emulator.storage import _walked_clone, clone, encode

STATUS = {
    "phase": "Progressing",
    "canaryWeight": 20,
    "iterations": 0,
    "failedChecks": 0,
    "lastAppliedSpec": "5f7c9d8b6",
    "lastPromotedSpec": "6d4cf56db6",
    "lastTransitionTime": "2026-12-03T10:00:00Z",
    "trackedConfigs": {},
    "conditions": [
        {
            "type": "Promoted",
            "status": "Unknown",
            "reason": "Progressing",
            "message": "New revision detected, progressing canary analysis.",
            "lastUpdateTime": "2026-12-03T10:00:00Z",
            "lastTransitionTime": "2026-12-03T10:00:00Z",
        }
    ],
}


def stored_canary(emulator: KubeEmulator) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """The Canary's schema, its stored version (with a status written), and the next
    status write's object."""
    seed(emulator, 1, "60s")
    rt = emulator._type("coalmine.dev/v1beta1", "canaries")
    body = clone(emulator.get("coalmine.dev/v1beta1", "canaries", "app-0", NAMESPACE))
    body["status"] = STATUS
    result = emulator.registry.replace(rt, NAMESPACE, "app-0", body, "status", "", "coalmine")
    old = result.obj
    new = clone(old)
    new["status"]["canaryWeight"] = 40
    return rt.schema, old, new


def per_call(work: Callable[[], object], count: int) -> float:
    """Microseconds per call."""
    began = time.perf_counter()
    for _ in range(count):
        work()
    return (time.perf_counter() - began) / count * 1e6


def status_leaves_of_the_whole(obj: dict[str, Any]) -> dict[Any, Any]:
    """The field manager's walk before: every field, then the status ones kept."""
    return {path: v for path, v in fieldmanager.leaves(obj).items() if path[0] == "status"}


async def main(writes: int, rounds: int) -> None:
    emulator = KubeEmulator()
    canary_schema, old, new = stored_canary(emulator)
    assert schema.admit(new, canary_schema, old) == schema.admit(new, canary_schema)
    assert fieldmanager._writable_leaves(new, True, "status") == status_leaves_of_the_whole(new)
    assert clone(old) == _walked_clone(old) and json.loads(encode(old)) == old
    pairs: dict[str, tuple[Callable[[], object], Callable[[], object]]] = {
        "admission (prune, default, validate, CEL)": (
            lambda: schema.admit(new, canary_schema),
            lambda: schema.admit(new, canary_schema, old),
        ),
        "field manager's walk": (
            lambda: status_leaves_of_the_whole(new),
            lambda: fieldmanager._writable_leaves(new, True, "status"),
        ),
        "a copy (Python walk, orjson)": (lambda: _walked_clone(old), lambda: clone(old)),
        "an answer's JSON (json, orjson)": (
            lambda: json.dumps(old, separators=(",", ":")).encode(),
            lambda: encode(old),
        ),
    }
    print(f"a Canary status write, {writes} calls a figure, {rounds} rounds (microseconds)")
    for round_ in range(1, rounds + 1):
        for name, (whole, part) in pairs.items():
            full, short = per_call(whole, writes), per_call(part, writes)
            print(
                f"round {round_}  {name:<42} long {full:7.1f}  "
                f"short {short:7.1f}  ratio {full / short:4.1f}"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.writes, arguments.rounds))
