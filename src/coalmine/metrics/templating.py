"""Query templates: Flagger's `{{ variable }}` placeholders, filled in safely.

Variables (Flagger's MetricTemplateModel, whitespace inside the braces optional):

    {{ name }}          the Canary's name
    {{ namespace }}     the Canary's namespace
    {{ target }}        spec.targetRef.name (the canary workload)
    {{ service }}       spec.service.name, else spec.targetRef.name
    {{ ingress }}       spec.targetRef.name (coalmine has no ingressRef; kept for Flagger files)
    {{ route }}         spec.targetRef.name (likewise for routeRef)
    {{ interval }}      the metric's interval, default 1m, cut at the start of this
                        revision's analysis while the analysis is younger (engine.windows)
    {{ analysisStart }} when this revision's analysis began, in Unix seconds (coalmine
                        addition: `... @ {{ analysisStart }}`, `time() - {{ analysisStart }}`)
    {{ variables.X }}   templateVariables[X] of the Canary's metric

Anything else between `{{ }}` is an unknown variable: an error that `coalmine validate`
reports, and a failed check (never a silent empty string) when a query is measured.

Escaping. The template is scanned as PromQL: every placeholder is known to be outside
any string, or inside a "double", 'single' or `raw` string literal, and whether that
literal is the right-hand side of a regex matcher (`=~`, `!~`). Then:

- inside a quoted string: backslash, the quote and newlines are escaped, so a value
  can never end the string (`"` in a namespace stays inside the label matcher);
- inside a raw string: a value holding a backtick is refused (nothing can escape it);
- inside a regex matcher, the object names (name, namespace, target, service, ingress,
  route) have regex metacharacters escaped (Go's regexp.QuoteMeta set), so that
  `destination_workload=~"{{ target }}"` matches that one workload: a target `a.b`
  cannot match `axb`. Kubernetes names hold only `[a-z0-9.-]`, so for every name
  without a dot the rendered query is exactly Flagger's. `variables.X` are not
  regex-escaped: a template variable used in a regex is often a pattern on purpose;
- outside any string, a value may hold only letters, digits and `_ : . , -` (an
  interval, a quantile, a label name); anything else is refused, so no value can add
  operators, selectors or parentheses to the query.

The rendered query has its whitespace outside strings collapsed to single spaces and
its `#` comments removed, so a multi-line YAML template reads as one line in events.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from coalmine.api.canary import Canary, CanaryMetric
from coalmine.errors import TemplateError

__all__ = [
    "NAME_VARIABLES",
    "VARIABLES",
    "Placeholder",
    "TemplateContext",
    "placeholders",
    "render",
    "template_errors",
    "unknown_variables",
    "variables_used",
]

NAME_VARIABLES = ("name", "namespace", "target", "service", "ingress", "route")
"""Variables that hold an object name: regex-escaped inside regex matchers."""
VARIABLES = (*NAME_VARIABLES, "interval", "analysisStart")
_PLACEHOLDER = re.compile(r"\{\{\s*(.*?)\s*\}\}", re.DOTALL)
_TEMPLATE_VARIABLE = re.compile(r"^variables\.([A-Za-z_][A-Za-z0-9_]*)$")
_BARE_VALUE = re.compile(r"^[A-Za-z0-9_:.,\-]*$")
_REGEX_META = re.compile(r"([\\.+*?()|\[\]{}^$])")
_STRING_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
QUOTES = "\"'`"


@dataclass(frozen=True)
class TemplateContext:
    """The values a template may use (Flagger's MetricTemplateModel)."""

    name: str
    namespace: str
    target: str
    service: str
    interval: str
    variables: Mapping[str, str] = field(default_factory=dict)
    analysis_start: datetime | None = None
    """status.analysisStartTime; None outside an analysis."""

    @classmethod
    def for_canary(cls, canary: Canary, metric: CanaryMetric) -> TemplateContext:
        return cls.for_interval(canary, metric.interval_or_default, metric.template_variables or {})

    @classmethod
    def for_interval(
        cls, canary: Canary, interval: str, variables: Mapping[str, str] | None = None
    ) -> TemplateContext:
        target = canary.spec.target_ref.name
        return cls(
            name=canary.name,
            namespace=canary.namespace,
            target=target,
            service=canary.spec.service.name or target,
            interval=interval,
            variables=dict(variables or {}),
            analysis_start=canary.status.analysis_start_time,
        )

    def builtin(self, variable: str) -> str:
        if variable in ("ingress", "route"):
            return self.target
        if variable == "analysisStart":
            if self.analysis_start is None:
                raise TemplateError(
                    "{{ analysisStart }} has no value: no analysis of a revision has started",
                    kind="unset",
                )
            return str(int(self.analysis_start.timestamp()))
        value: str = getattr(self, variable)
        return value


@dataclass(frozen=True)
class Placeholder:
    """One `{{ ... }}` in a template and where it stands in the PromQL around it."""

    variable: str
    """What is between the braces, trimmed: `namespace`, `variables.route`, or unknown text."""
    quote: str | None
    """The string literal it is inside: one of " ' `, or None outside any string."""
    regex: bool
    """Inside the string of a regex matcher (=~ or !~)."""


@dataclass(frozen=True)
class _Text:
    text: str
    quoted: bool


def placeholders(template: str) -> list[Placeholder]:
    return [piece for piece in _scan(template) if isinstance(piece, Placeholder)]


def unknown_variables(template: str) -> list[str]:
    """Placeholders that name no variable, in order of appearance, each once."""
    found = [p.variable for p in placeholders(template) if not _known(p.variable)]
    return list(dict.fromkeys(found))


def variables_used(template: str) -> list[str]:
    """The X of every `{{ variables.X }}`, in order of appearance, each once."""
    found = []
    for placeholder in placeholders(template):
        match = _TEMPLATE_VARIABLE.match(placeholder.variable)
        if match:
            found.append(match.group(1))
    return list(dict.fromkeys(found))


def render(template: str, context: TemplateContext, *, source: str = "the query") -> str:
    """The query with every placeholder filled in and escaped; TemplateError otherwise.

    `source` names the template in messages: "template error-rate", "query".
    """
    out: list[str] = []
    outside: list[str] = []  # consecutive text outside strings, collapsed together
    for piece in _scan(template):
        if isinstance(piece, _Text) and not piece.quoted:
            outside.append(piece.text)
            continue
        out.append(re.sub(r"\s+", " ", "".join(outside)))
        outside = []
        out.append(_fill(piece, context, source) if isinstance(piece, Placeholder) else piece.text)
    out.append(re.sub(r"\s+", " ", "".join(outside)))
    return "".join(out).strip()


def template_errors(
    template: str, context: TemplateContext, *, source: str = "the query"
) -> list[TemplateError]:
    """Every error `render` would meet, not just the first (for `coalmine validate`)."""
    errors: list[TemplateError] = []
    for placeholder in placeholders(template):
        try:
            _fill(placeholder, context, source)
        except TemplateError as error:
            errors.append(error)
    return errors


def _known(variable: str) -> bool:
    return variable in VARIABLES or _TEMPLATE_VARIABLE.match(variable) is not None


def _fill(placeholder: Placeholder, context: TemplateContext, source: str) -> str:
    variable = placeholder.variable
    if variable in VARIABLES:
        value = context.builtin(variable)
    elif match := _TEMPLATE_VARIABLE.match(variable):
        key = match.group(1)
        if key not in context.variables:
            raise TemplateError(f"{source} uses variables.{key}, which is not set", kind="unset")
        value = context.variables[key]
    else:
        raise TemplateError(f"{source}: {_unknown_message(variable)}", kind="unknown")
    return _escape(value, placeholder, source)


def _unknown_message(variable: str) -> str:
    close = difflib.get_close_matches(variable, VARIABLES, n=1, cutoff=0.6)
    hint = f"did you mean {{{{ {close[0]} }}}}? " if close else ""
    return (
        f"unknown variable {{{{ {variable} }}}}; {hint}valid variables are "
        f"{', '.join(VARIABLES)} and variables.NAME (from templateVariables)"
    )


def _escape(value: str, placeholder: Placeholder, source: str) -> str:
    quote = placeholder.quote
    if quote is None:
        if not _BARE_VALUE.match(value):
            raise TemplateError(
                f"{source}: {{{{ {placeholder.variable} }}}} is outside a quoted string and its "
                f"value {value!r} holds characters other than letters, digits and _:.,-; "
                "quote it in the template or change the value",
                kind="unsafe",
            )
        return value
    if placeholder.regex and placeholder.variable in NAME_VARIABLES:
        value = _REGEX_META.sub(r"\\\1", value)
    if quote == "`":
        if "`" in value:
            raise TemplateError(
                f"{source}: the value of {{{{ {placeholder.variable} }}}} holds a backtick, "
                "which cannot appear in a `raw` string; use a quoted string",
                kind="unsafe",
            )
        return value
    escapes = {**_STRING_ESCAPES, quote: "\\" + quote}
    return "".join(escapes.get(char, char) for char in value)


def _scan(template: str) -> Iterator[Placeholder | _Text]:
    """Split a template into text and placeholders, tracking PromQL string literals.

    Placeholders inside `#` comments are left out, like the comments themselves.
    """
    lexer = _Lexer()
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        yield from lexer.feed(template[position : match.start()])
        if not lexer.in_comment:
            yield Placeholder(
                match.group(1).strip(), lexer.quote, lexer.regex and lexer.quote is not None
            )
        position = match.end()
    yield from lexer.feed(template[position:])


class _Lexer:
    """Just enough of PromQL's lexer to know whether text is inside a string literal."""

    def __init__(self) -> None:
        self.quote: str | None = None
        self.regex = False
        self.escaped = False
        self.in_comment = False
        self.tail = ""
        """The last characters outside strings, to see a regex matcher before a quote."""

    def feed(self, text: str) -> Iterator[_Text]:
        """Text in pieces that are each all quoted or all outside; a comment becomes a space."""
        kind, chars = "", list[str]()
        for char in text:
            char_kind = self._consume(char)
            if char_kind != kind and chars:
                yield _piece(kind, chars)
                chars = []
            kind = char_kind
            chars.append(char)
        if chars:
            yield _piece(kind, chars)

    def _consume(self, char: str) -> str:
        """Advance by one character and say what it was: quoted, comment or outside."""
        if self.quote is not None:
            if self.escaped:
                self.escaped = False
            elif char == "\\" and self.quote != "`":
                self.escaped = True
            elif char == self.quote:
                self.quote = None
                self.tail = ""
            return "quoted"
        if self.in_comment or char == "#":
            self.in_comment = char != "\n"
            return "comment"
        if char in QUOTES:
            self.regex = self.tail.rstrip().endswith(("=~", "!~"))
            self.quote = char
            return "quoted"
        self.tail = (self.tail + char)[-8:]
        return "outside"


def _piece(kind: str, chars: list[str]) -> _Text:
    if kind == "comment":
        return _Text(" ", quoted=False)
    return _Text("".join(chars), quoted=kind == "quoted")
