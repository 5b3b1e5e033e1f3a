"""The revision of a pod template: the same manifest, defaulted or not, is one revision."""

from __future__ import annotations

import copy
from typing import Any

from coalmine.kube.adapters.revision import pod_template_revision
from tests.fixtures.operator import deployment


def template() -> dict[str, Any]:
    return copy.deepcopy(deployment()["spec"]["template"])


def defaulted(t: dict[str, Any]) -> dict[str, Any]:
    """The template as a real API server stores it."""
    t = copy.deepcopy(t)
    t["metadata"]["creationTimestamp"] = None
    spec = t["spec"]
    spec.update(
        restartPolicy="Always",
        terminationGracePeriodSeconds=30,
        dnsPolicy="ClusterFirst",
        schedulerName="default-scheduler",
        securityContext={},
    )
    container = spec["containers"][0]
    container.update(
        imagePullPolicy="IfNotPresent",
        resources={},
        terminationMessagePath="/dev/termination-log",
        terminationMessagePolicy="File",
    )
    container["ports"][0]["protocol"] = "TCP"
    container["readinessProbe"] = {
        "httpGet": {"path": "/readyz", "port": 9898, "scheme": "HTTP"},
        "timeoutSeconds": 1,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    }
    return t


def test_server_defaults_do_not_change_the_revision() -> None:
    plain = template()
    plain["spec"]["containers"][0]["readinessProbe"] = {
        "httpGet": {"path": "/readyz", "port": 9898}
    }

    assert pod_template_revision(plain) == pod_template_revision(defaulted(plain))


def test_what_a_user_changes_is_a_new_revision() -> None:
    base = template()
    changes = [
        ("image", lambda t: t["spec"]["containers"][0].update(image="podinfo:6.0.1")),
        ("env", lambda t: t["spec"]["containers"][0].update(env=[{"name": "A", "value": "1"}])),
        ("annotation", lambda t: t["metadata"]["annotations"].update(restartedAt="now")),
        ("pull policy", lambda t: t["spec"]["containers"][0].update(imagePullPolicy="Always")),
        ("grace", lambda t: t["spec"].update(terminationGracePeriodSeconds=5)),
    ]
    revisions = {"none": pod_template_revision(base)}
    for name, change in changes:
        changed = template()
        change(changed)
        revisions[name] = pod_template_revision(changed)

    assert len(set(revisions.values())) == len(changes) + 1, revisions


def test_latest_images_default_to_always_pull() -> None:
    latest = template()
    latest["spec"]["containers"][0]["image"] = "podinfo:latest"
    pulled = copy.deepcopy(latest)
    pulled["spec"]["containers"][0]["imagePullPolicy"] = "Always"

    assert pod_template_revision(latest) == pod_template_revision(pulled)


def test_the_revision_is_stable_across_key_order() -> None:
    t = template()
    reordered = {"spec": t["spec"], "metadata": dict(reversed(list(t["metadata"].items())))}

    assert pod_template_revision(t) == pod_template_revision(reordered)
    assert len(pod_template_revision(t)) == 16
