"""Label and field selectors, parsed and matched as the apiserver does.

Label selectors: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, and
`k>5`/`k<5`. `!=` and `notin` also match objects without the label, as in Kubernetes.
Field selectors: `=`, `==`, `!=` on the fields a resource type supports; others are
refused with 400 like the real server ("field label not supported").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import bad_request

_KEY = r"[A-Za-z0-9][-A-Za-z0-9_./]*"
_VALUE = r"[-A-Za-z0-9_.]*"
_SET_RE = re.compile(rf"^\s*({_KEY})\s+(in|notin)\s+\(([^)]*)\)\s*$")
_CMP_RE = re.compile(rf"^\s*({_KEY})\s*(==|!=|=|>|<)\s*({_VALUE})\s*$")
_EXISTS_RE = re.compile(rf"^\s*(!?)\s*({_KEY})\s*$")

Matcher = Callable[[Mapping[str, str]], bool]


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # =, !=, in, notin, exists, !exists, >, <
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key, "")
        if self.operator in ("=", "in"):
            return present and value in self.values
        if self.operator in ("!=", "notin"):
            return not present or value not in self.values
        if self.operator == "exists":
            return present
        if self.operator == "!exists":
            return not present
        return present and _compare(value, self.operator, next(iter(self.values)))


def _compare(value: str, operator: str, bound: str) -> bool:
    try:
        number = int(value)
    except ValueError:
        return False
    return number > int(bound) if operator == ">" else number < int(bound)


def _split_terms(selector: str) -> list[str]:
    """Split on commas that are not inside `( )`."""
    terms: list[str] = []
    current: list[str] = []
    depth = 0
    for char in selector:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            terms.append("".join(current))
            current = []
        else:
            current.append(char)
    terms.append("".join(current))
    return [term for term in terms if term.strip()]


def _parse_requirement(term: str) -> Requirement:
    if match := _SET_RE.match(term):
        key, operator, raw = match.groups()
        values = frozenset(v.strip() for v in raw.split(",") if v.strip())
        return Requirement(key, operator, values)
    if match := _CMP_RE.match(term):
        key, operator, value = match.groups()
        if operator in (">", "<") and not re.fullmatch(r"-?\d+", value):
            raise bad_request(
                "unable to parse requirement: for 'gt', 'lt' operators, "
                f"the value must be an integer: {term.strip()}"
            )
        return Requirement(key, "=" if operator == "==" else operator, frozenset({value}))
    if match := _EXISTS_RE.match(term):
        negated, key = match.groups()
        return Requirement(key, "!exists" if negated else "exists")
    raise bad_request(
        f"unable to parse requirement: found '{term.strip()}', expected: a valid label selector"
    )


def parse_label_selector(selector: str | None) -> Matcher:
    """A predicate on an object's labels; an empty selector matches everything."""
    requirements = [_parse_requirement(term) for term in _split_terms(selector or "")]
    return lambda labels: all(r.matches(labels) for r in requirements)


def selector_from_match_labels(selector: Mapping[str, Any]) -> Matcher:
    """A predicate from a LabelSelector object (`matchLabels` and `matchExpressions`)."""
    requirements = [
        Requirement(k, "=", frozenset({str(v)})) for k, v in selector.get("matchLabels", {}).items()
    ]
    operators = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!exists"}
    for expression in selector.get("matchExpressions", []):
        operator = operators[expression["operator"]]
        requirements.append(
            Requirement(expression["key"], operator, frozenset(expression.get("values", [])))
        )
    return lambda labels: all(r.matches(labels) for r in requirements)


def field_value(obj: Mapping[str, Any], path: str) -> str:
    """The string value of a dotted field path, "" when absent (as field selectors see it)."""
    current: Any = obj
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return ""
        current = current[part]
    if isinstance(current, Mapping):
        return str(current.get("component", "")) if path == "source" else ""
    return str(current)


def parse_field_selector(
    selector: str | None, supported: frozenset[str]
) -> Callable[[Mapping[str, Any]], bool]:
    """A predicate on a whole object; unknown field labels are a 400 like the real server."""
    checks: list[tuple[str, bool, str]] = []
    for term in _split_terms(selector or ""):
        match = re.match(r"^\s*([^=!]+?)\s*(==|!=|=)\s*(.*?)\s*$", term)
        if not match:
            raise bad_request(f"invalid selector: '{selector}'; can't understand '{term}'")
        path, operator, value = match.groups()
        if path not in supported:
            raise bad_request(f"field label not supported: {path}")
        checks.append((path, operator != "!=", value))
    return lambda obj: all((field_value(obj, p) == v) == eq for p, eq, v in checks)


def object_filter(
    namespace: str | None,
    label_selector: str | None,
    field_selector: str | None,
    field_labels: frozenset[str],
) -> Callable[[Mapping[str, Any]], bool]:
    """One predicate for list and watch: namespace, labels and fields together."""
    labels = parse_label_selector(label_selector)
    fields = parse_field_selector(field_selector, field_labels)

    def matches(obj: Mapping[str, Any]) -> bool:
        meta = obj["metadata"]
        if namespace is not None and meta.get("namespace") != namespace:
            return False
        return labels(meta.get("labels") or {}) and fields(obj)

    return matches
