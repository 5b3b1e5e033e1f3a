"""What a local canary needs: `coalmine up` running, its Envoy ready, a writable state
directory; and, optionally, `prometheus` for PromQL metrics. Plain urllib, 3 s timeouts."""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from coalmine.doctor.checks import Check
from coalmine.errors import CoalmineError

__all__ = ["local_checks"]

TIMEOUT_SECONDS = 3.0


def local_checks(state_dir: Path) -> list[Check]:
    health, up = _up(state_dir)
    checks = [up, _envoy(health, state_dir), _writable(state_dir), _quarantine(health)]
    checks.append(_prometheus())
    if health and health.get("prometheus"):
        checks.append(_prometheus_ready(str(health["prometheus"])))
    return checks


def _up(state_dir: Path) -> tuple[dict[str, Any] | None, Check]:
    from coalmine.local.client import LocalClient

    name = "coalmine up running"
    try:
        health = LocalClient(state_dir, timeout=TIMEOUT_SECONDS).health()
    except CoalmineError as error:
        return None, Check.fail(
            name, str(error).split(";")[0], f"start it: coalmine up --state-dir {state_dir}"
        )
    detail = f"pid {health.get('pid')}, gateway {health.get('gateway')}"
    return health, Check.ok(name, detail)


def _quarantine(health: dict[str, Any] | None) -> Check:
    """Objects `coalmine up` found in its store and could not serve (see local.admission)."""
    name = "every stored object served"
    if health is None:
        return Check.fail(name, "not checked: coalmine up is not running", "start coalmine up")
    found = health.get("quarantined") or []
    if not found:
        return Check.ok(name, "none quarantined")
    detail = "; ".join(f"{q['object']} (namespace {q['namespace']}): {q['reason']}" for q in found)
    fixes = " | ".join(str(q["fix"]) for q in found)
    return Check.fail(name, f"{len(found)} quarantined: {detail}", fixes)


def _envoy(health: dict[str, Any] | None, state_dir: Path) -> Check:
    name = "Envoy ready"
    if health is None:
        return Check.fail(name, "not checked: coalmine up is not running", "start coalmine up")
    admin = str(health.get("envoyAdmin") or "")
    try:
        with urllib.request.urlopen(f"{admin}/ready", timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310
            text = answer.read().decode().strip()
    except (urllib.error.URLError, OSError, ValueError) as error:
        return Check.fail(
            name,
            f"{admin}/ready did not answer ({error})",
            f"coalmine up restarts Envoy on its own; if this persists, see"
            f" {state_dir}/envoy/ and restart coalmine up",
        )
    return Check.ok(name, f"{admin}/ready answers {text}")


def _prometheus_ready(url: str) -> Check:
    """The Prometheus `coalmine up --prometheus` started answers /-/ready."""
    name = "Prometheus of coalmine up ready"
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310
            answer.read()
    except (urllib.error.URLError, OSError, ValueError) as error:
        return Check.fail(
            name,
            f"{url}/-/ready did not answer ({error})",
            "restart coalmine up --prometheus (its Prometheus keeps its data in"
            " <state-dir>/prometheus)",
        )
    return Check.ok(name, url)


def _writable(state_dir: Path) -> Check:
    name = "state directory writable"
    where = state_dir if state_dir.exists() else state_dir.parent
    try:
        with tempfile.NamedTemporaryFile(dir=where or Path(".")):
            pass
    except OSError as error:
        return Check.fail(
            name,
            f"{state_dir}: {error.strerror}",
            f"make it writable (chmod u+w {state_dir}) or use another --state-dir",
        )
    return Check.ok(name, str(state_dir.resolve()))


def _prometheus() -> Check:
    name = "prometheus on PATH (optional)"
    found = shutil.which("prometheus") or (
        "/usr/bin/prometheus" if os.access("/usr/bin/prometheus", os.X_OK) else None
    )
    if found is None:
        return Check.note(
            name,
            "not found; only `coalmine up --prometheus` needs it (MetricTemplates; the"
            " built-in checks also work from Envoy's own statistics)",
            "apt-get install prometheus, or a release from prometheus.io",
        )
    return Check.ok(name, found)
