"""Every error coalmine raises on purpose, under one base class.

    CoalmineError                 exit code 1 unless a subclass says otherwise
    ├── ManifestError             a manifest is invalid; carries every Problem found
    │   └── InvalidDataPlane      the local Envoy data-plane model is inconsistent
    │       └── EnvoyRejected     Envoy itself refused the configuration
    ├── NotFound                  a named object does not exist
    ├── Unavailable               a runtime, cluster or service cannot be reached (exit 3)
    ├── QueryError                a metrics backend answered a query with an error
    ├── TemplateError             a query template cannot be rendered (unknown or unset
    │                             variable, a value that would change the query)
    └── AdapterError              an adapter could not carry out an action (the engine
        │                         reports it as a Warning event and retries next tick)
        └── Conflict              a write lost a race (Kubernetes 409): re-read and retry

The CLI catches CoalmineError in one place, prints `str(error)` and exits with
`error.exit_code`. The operator maps AdapterError and Unavailable to "retry later".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "AdapterError",
    "CoalmineError",
    "Conflict",
    "EnvoyRejected",
    "InvalidDataPlane",
    "ManifestError",
    "NotFound",
    "Problem",
    "QueryError",
    "TemplateError",
    "Unavailable",
]


class CoalmineError(Exception):
    exit_code = 1


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a manifest: which document, which field, what is allowed."""

    document: str
    path: str
    message: str

    def __str__(self) -> str:
        return ": ".join(part for part in (self.document, self.path, self.message) if part)


class ManifestError(CoalmineError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


class NotFound(CoalmineError):
    pass


class Unavailable(CoalmineError):
    exit_code = 3


class AdapterError(CoalmineError):
    pass


class Conflict(AdapterError):
    """The object changed since it was read, or already exists (HTTP 409)."""


class Gone(AdapterError):
    """A resourceVersion or a list's continue token older than the history the server
    keeps (HTTP 410): list again from the start."""


class QueryError(CoalmineError):
    """The metrics backend was reached but refused or failed the query (PromQL error, HTTP
    error status, an answer that is not its API's JSON). Unreachable backends are Unavailable."""


class TemplateError(CoalmineError):
    """A query template that cannot be rendered. `kind` says which part is wrong: the
    template (`unknown` variable) or the values given to it (`unset`, `unsafe`)."""

    def __init__(self, message: str, *, kind: Literal["unknown", "unset", "unsafe"]) -> None:
        self.kind = kind
        super().__init__(message)


class InvalidDataPlane(ManifestError):
    """The data-plane model built for the local Envoy is inconsistent (for example weights
    that do not sum to 100, or a route to an unknown cluster). Nothing was changed."""


class EnvoyRejected(InvalidDataPlane):
    """Envoy's own validation refused a configuration that passed the model's checks.
    The running routes were left as they were."""
