"""Every error coalmine raises on purpose, under one base class.

    CoalmineError                 exit code 1 unless a subclass says otherwise
    ├── ManifestError             a manifest is invalid; carries every Problem found
    ├── NotFound                  a named object does not exist
    ├── Unavailable               a runtime, cluster or service cannot be reached (exit 3)
    └── AdapterError              an adapter could not carry out an action (the engine
        │                         reports it as a Warning event and retries next tick)
        └── Conflict              a write lost a race (Kubernetes 409): re-read and retry

The CLI catches CoalmineError in one place, prints `str(error)` and exits with
`error.exit_code`. The operator maps AdapterError and Unavailable to "retry later".
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AdapterError",
    "CoalmineError",
    "Conflict",
    "ManifestError",
    "NotFound",
    "Problem",
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
