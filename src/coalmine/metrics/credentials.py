"""Credentials for a metrics backend, and where they come from.

A MetricTemplate names its credentials with `spec.provider.secretRef`, as in Flagger: a
Secret in the template's namespace holding `token` (sent as a bearer token), or
`username` and `password` (HTTP basic auth). A `CredentialSource` turns that name into
`Credentials`:

- Kubernetes: the Secret itself (the operator implements the protocol with kr8s).
- local mode: `FileCredentialSource`, one YAML file of secrets by name, or
  `EnvCredentialSource`, environment variables named after the secret.
- tests and embedding: `StaticCredentialSource`, a dict.

Local sources ignore the namespace: one machine, one set of secrets.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from coalmine.api.parsing import ParseError, load_yaml_documents
from coalmine.errors import CoalmineError, NotFound

__all__ = [
    "CredentialSource",
    "Credentials",
    "EnvCredentialSource",
    "FileCredentialSource",
    "StaticCredentialSource",
]


@dataclass(frozen=True)
class Credentials:
    """A bearer token, or a username and password. Never printed (repr hides them)."""

    token: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_mapping(cls, data: Mapping[str, str], *, source: str) -> Credentials:
        """Read Flagger's Secret keys; `source` names where they came from, for the error."""
        token = data.get("token") or None
        username, password = data.get("username"), data.get("password")
        if token:
            return cls(token=token)
        if username and password:
            return cls(username=username, password=password)
        keys = ", ".join(sorted(data)) or "none"
        raise CoalmineError(
            f"{source}: needs the key token, or the keys username and password (has: {keys})"
        )


class CredentialSource(Protocol):
    """Where the credentials a MetricTemplate's secretRef names are kept."""

    async def get(self, name: str, namespace: str) -> Credentials:
        """The credentials of secret `name` in `namespace`.

        Raises NotFound when there is no such secret and CoalmineError when it holds
        neither a token nor a username and password.
        """
        ...


class StaticCredentialSource:
    """Secrets held in memory, by name (any namespace)."""

    def __init__(self, secrets: Mapping[str, Credentials]) -> None:
        self.secrets = dict(secrets)

    async def get(self, name: str, namespace: str) -> Credentials:
        try:
            return self.secrets[name]
        except KeyError:
            raise NotFound(f"secret {name} not found (known: {_known(self.secrets)})") from None


class FileCredentialSource:
    """A YAML file of secrets by name, each a mapping of Flagger's keys.

        prometheus-auth:
          token: eyJhbGciOi...
        basic-auth:
          username: coalmine
          password: s3cret

    The file is read at every lookup, so an edited file takes effect at the next query.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    async def get(self, name: str, namespace: str) -> Credentials:
        secrets = self._read()
        data = secrets.get(name)
        if data is None:
            raise NotFound(f"secret {name} not found in {self.path} (has: {_known(secrets)})")
        if not isinstance(data, dict):
            raise CoalmineError(f"{self.path}: {name} must be a mapping of keys to values")
        return Credentials.from_mapping(
            {str(k): str(v) for k, v in data.items()}, source=f"{self.path}: {name}"
        )

    def _read(self) -> dict[str, object]:
        try:
            documents = load_yaml_documents(self.path.read_text(), source=str(self.path))
        except OSError as error:
            raise NotFound(f"cannot read credentials file {self.path}: {error.strerror}") from None
        except ParseError as error:
            raise CoalmineError(f"credentials file {error}") from None
        loaded = documents[0] if documents else None
        if not isinstance(loaded, dict):
            raise CoalmineError(f"credentials file {self.path} must map secret names to keys")
        return {str(key): value for key, value in loaded.items()}


class EnvCredentialSource:
    """Environment variables named after the secret.

    Secret `prometheus-auth` reads COALMINE_SECRET_PROMETHEUS_AUTH_TOKEN, or
    COALMINE_SECRET_PROMETHEUS_AUTH_USERNAME and ..._PASSWORD: the name upper-cased,
    every character other than a letter or digit turned into `_`.
    """

    PREFIX = "COALMINE_SECRET_"

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = os.environ if environ is None else environ

    @classmethod
    def variable(cls, name: str, key: str) -> str:
        return f"{cls.PREFIX}{re.sub(r'[^A-Za-z0-9]', '_', name).upper()}_{key.upper()}"

    async def get(self, name: str, namespace: str) -> Credentials:
        keys = ("token", "username", "password")
        data = {
            key: self.environ[self.variable(name, key)]
            for key in keys
            if self.variable(name, key) in self.environ
        }
        if not data:
            raise NotFound(
                f"secret {name} not found: set {self.variable(name, 'token')}, or "
                f"{self.variable(name, 'username')} and {self.variable(name, 'password')}"
            )
        return Credentials.from_mapping(data, source=f"environment for secret {name}")


def _known(secrets: Mapping[str, object]) -> str:
    return ", ".join(sorted(secrets)) or "none"
