"""The Istio networking types a Canary embeds (and the local VirtualService reuses).

Field names follow istio.io/api networking/v1beta1. Only what coalmine reads is
modelled strictly; `trafficPolicy` is passed through to the DestinationRule as written.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from coalmine.api.common import Duration, Model
from coalmine.api.regex import re2_problem

__all__ = [
    "CorsPolicy",
    "HTTPMatchRequest",
    "HTTPRetry",
    "HTTPRewrite",
    "HeaderOperations",
    "Headers",
    "StringMatch",
]


_MATCH_KINDS = ("exact", "prefix", "suffix", "regex")


class StringMatch(Model):
    """Exactly one of exact, prefix, suffix or regex (RE2 syntax).

    `suffix` is Flagger's (its CRD allows it in A/B header matches); Istio's own
    StringMatch has no suffix, so the routers write it as the equivalent RE2 regex
    (`as_istio`), which Istio and Envoy both match against the whole value.
    """

    exact: str | None = None
    prefix: str | None = None
    suffix: str | None = None
    regex: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> StringMatch:
        given = [k for k in _MATCH_KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"set exactly one of exact, prefix, suffix or regex, got {given or 'none'}"
            )
        if self.regex is not None:
            problem = re2_problem(self.regex)
            if problem is not None:
                raise ValueError(f"regex {self.regex!r}: {problem}")
        return self

    @property
    def kind(self) -> str:
        """exact, prefix or regex: a suffix is read as its regex (see `as_istio`)."""
        given = next(k for k in _MATCH_KINDS if getattr(self, k) is not None)
        return "regex" if given == "suffix" else given

    @property
    def value(self) -> str:
        if self.suffix is not None:
            return ".*" + _re2_escape(self.suffix)
        value = getattr(self, self.kind)
        assert isinstance(value, str)
        return value

    def as_istio(self) -> dict[str, str]:
        """The match as Istio writes it (a suffix becomes its regex)."""
        return {self.kind: self.value}


def _re2_escape(text: str) -> str:
    """`text` as an RE2 literal: every character that is not a letter, digit or _ escaped."""
    return "".join(c if c.isalnum() or c == "_" else "\\" + c for c in text)


class HTTPMatchRequest(Model):
    name: str | None = None
    uri: StringMatch | None = None
    scheme: StringMatch | None = None
    method: StringMatch | None = None
    authority: StringMatch | None = None
    headers: dict[str, StringMatch] | None = None
    port: int | None = None
    source_labels: dict[str, str] | None = None
    gateways: list[str] | None = None
    query_params: dict[str, StringMatch] | None = None
    ignore_uri_case: bool | None = None
    without_headers: dict[str, StringMatch] | None = None
    source_namespace: str | None = None


class HTTPRetry(Model):
    attempts: Annotated[int, Field(ge=0)] = 0
    per_try_timeout: Duration | None = None
    retry_on: str | None = None
    retry_remote_localities: bool | None = None


class HeaderOperations(Model):
    set: dict[str, str] | None = None
    add: dict[str, str] | None = None
    remove: list[str] | None = None


class Headers(Model):
    request: HeaderOperations | None = None
    response: HeaderOperations | None = None


class HTTPRewrite(Model):
    uri: str | None = None
    authority: str | None = None
    type: Literal["ReplaceFullPath", "ReplacePrefixMatch"] | None = None
    """Flagger's Gateway API rewrite type. An Istio VirtualService has no such field, so
    the Istio and local routers leave it out, as Istio drops it from Flagger's."""


class CorsPolicy(Model):
    allow_origin: list[str] | None = None
    allow_origins: list[StringMatch] | None = None
    allow_methods: list[str] | None = None
    allow_headers: list[str] | None = None
    expose_headers: list[str] | None = None
    max_age: Duration | None = None
    allow_credentials: bool | None = None


TrafficPolicy = dict[str, Any]
"""A DestinationRule trafficPolicy, passed through unchanged."""
