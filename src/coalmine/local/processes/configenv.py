"""A container's environment from ConfigMaps and Secrets (`env[].valueFrom`, `envFrom`).

Read when a replica process starts, as the kubelet reads them when it starts a
container: a later change of the object reaches a process only when it restarts. A
missing object or key that is not `optional` keeps the replica from starting, with the
kubelet's reason (`CreateContainerConfigError`) and the name of what is missing; the
replica retries with back-off, and starts once the object is applied.
"""

from __future__ import annotations

from collections.abc import Callable

from coalmine.api.workloads import Container

__all__ = ["ConfigLookup", "ConfigMissing", "config_env"]

ConfigLookup = Callable[[str, str, str], dict[str, bytes] | None]
"""(kind "ConfigMap" or "Secret", namespace, name) -> the object's content by key, or
None when it is not stored."""


class ConfigMissing(Exception):
    """A non-optional reference names an object or key that is not there."""

    def __str__(self) -> str:
        return f"CreateContainerConfigError: {self.args[0]}"


def config_env(container: Container, namespace: str, lookup: ConfigLookup) -> dict[str, str]:
    """The variables `envFrom` and `env[].valueFrom` give, in Kubernetes' order: `envFrom`
    sources first (a later one wins), then `env` entries (which win over `envFrom`).
    Literal `env[].value` entries are included too, so that the order holds."""
    env: dict[str, str] = {}
    for source in container.env_from:
        kind, ref = (
            ("ConfigMap", source.config_map_ref)
            if source.config_map_ref is not None
            else ("Secret", source.secret_ref)
        )
        assert ref is not None  # the model requires one of the two
        content = lookup(kind, namespace, ref.name)
        if content is None:
            if ref.optional:
                continue
            raise ConfigMissing(f"{kind.lower()} {ref.name!r} not found (envFrom)")
        env.update({source.prefix + key: _text(value) for key, value in content.items()})
    for var in container.env:
        if var.value_from is None:
            env[var.name] = var.value
            continue
        selector = var.value_from.config_map_key_ref or var.value_from.secret_key_ref
        kind = "ConfigMap" if var.value_from.config_map_key_ref is not None else "Secret"
        assert selector is not None  # the model requires one of the two
        content = lookup(kind, namespace, selector.name)
        if content is None or selector.key not in content:
            if selector.optional:
                continue
            what = f"{kind.lower()} {selector.name!r}"
            missing = (
                f"{what} not found" if content is None else f"key {selector.key!r} not in {what}"
            )
            raise ConfigMissing(f"{missing} (env {var.name})")
        env[var.name] = _text(content[selector.key])
    return env


def _text(value: bytes) -> str:
    """An environment value: bytes that are not UTF-8 are kept as they are (surrogates)."""
    return value.decode("utf-8", errors="surrogateescape")
