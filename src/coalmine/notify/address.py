"""Where an alert provider's webhook address comes from: `spec.address` or a secret.

As in Flagger, `spec.secretRef` wins over `spec.address`: the secret's `address` key
holds the URL (webhook URLs carry their token, so they belong in a secret).

- Kubernetes: the Secret `secretRef.name` in the provider's namespace, key `address`
  (the Kubernetes adapter implements `SecretSource`).
- Local mode (`LocalSecrets`): the environment variable
  `COALMINE_SECRET_<NAME>_ADDRESS` (the name upper-cased, every character other than
  a letter or digit turned into `_`), else the file `<state-dir>/secrets/<name>/address`
  (surrounding whitespace stripped). The namespace plays no part: one machine, one user.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from coalmine.api.alert_provider import AlertProvider
from coalmine.errors import NotFound
from coalmine.notify.base import SecretSource

__all__ = ["ADDRESS_KEY", "LocalSecrets", "resolve_address", "secret_env_var"]

ADDRESS_KEY = "address"


async def resolve_address(provider: AlertProvider, secrets: SecretSource) -> str:
    """The URL to post to; raises NotFound naming the secret and where it was looked for."""
    spec = provider.spec
    if spec.secret_ref is not None:
        return await secrets.get(spec.secret_ref.name, provider.metadata.namespace, ADDRESS_KEY)
    if not spec.address:
        raise NotFound(
            f"alert provider {provider.metadata.name}.{provider.metadata.namespace} "
            "has neither spec.address nor spec.secretRef"
        )
    return spec.address


def secret_env_var(name: str, key: str) -> str:
    """`on-call-url`, `address` -> `COALMINE_SECRET_ON_CALL_URL_ADDRESS`."""
    return f"COALMINE_SECRET_{_env_part(name)}_{_env_part(key)}"


def _env_part(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", text).upper()


class LocalSecrets:
    """Secrets for local mode: an environment variable, else a file under the state dir."""

    def __init__(self, state_dir: Path, environ: Mapping[str, str] | None = None) -> None:
        self.state_dir = state_dir
        self.environ = os.environ if environ is None else environ

    def path(self, name: str, key: str) -> Path:
        return self.state_dir / "secrets" / name / key

    async def get(self, name: str, namespace: str, key: str) -> str:
        variable = secret_env_var(name, key)
        if value := self.environ.get(variable, "").strip():
            return value
        path = self.path(name, key)
        try:
            value = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            value = ""
        if not value:
            raise NotFound(
                f"secret {name!r} has no {key!r}: set the environment variable {variable} "
                f"or write the value to {path}"
            )
        return value
