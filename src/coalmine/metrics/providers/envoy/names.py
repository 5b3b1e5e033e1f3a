"""The Envoy cluster names: the contract between coalmine's data plane and its stats.

The local data plane names each Service's cluster with `cluster_name`
(`local.envoy.model` uses this function), and Envoy's stats carry it as
`envoy_cluster_name`, which the Envoy provider reads here and the Envoy built-in PromQL
(`metrics.builtins`) selects as `{{ namespace }}_{{ service }}-canary`.
"""

from __future__ import annotations

import re

__all__ = ["cluster_name"]

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def cluster_name(namespace: str, service: str, subset: str | None = None) -> str:
    """The Envoy cluster name for a service (and optionally a DestinationRule subset).

    Every part is a DNS label, so `_` separates them unambiguously, and there is no dot:
    Envoy's Prometheus tag extraction takes the cluster name up to the first dot.
    """
    parts = [namespace, service] if subset is None else [namespace, service, subset]
    for kind, part in zip(("namespace", "service", "subset"), parts, strict=False):
        if not _DNS_LABEL.match(part):
            raise ValueError(
                f"{kind} {part!r} is not a DNS label: use lowercase letters, digits and '-',"
                " at most 63 characters, starting and ending with a letter or digit"
            )
    return "_".join(parts)
