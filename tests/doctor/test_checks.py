"""The doctor's report: one line per check, the fix under a failure, optional notes."""

from __future__ import annotations

from coalmine.doctor.checks import Check, render, verdict


def test_failures_show_their_fix_and_notes_never_fail() -> None:
    checks = [
        Check.ok("cluster reachable", "Kubernetes v1.32.0"),
        Check.fail(
            "Istio installed", "missing CRDs: gateways.networking.istio.io", "istioctl install -y"
        ),
        Check.note("prometheus on PATH (optional)", "not found", "apt-get install prometheus"),
    ]
    assert render(checks).splitlines() == [
        "OK    cluster reachable: Kubernetes v1.32.0",
        "FAIL  Istio installed: missing CRDs: gateways.networking.istio.io",
        "      fix: istioctl install -y",
        "--    prometheus on PATH (optional): not found",
        "      fix: apt-get install prometheus",
    ]
    assert verdict(checks) == 1
    assert verdict([checks[0], checks[2]]) == 0
