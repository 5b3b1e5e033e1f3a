"""Templates: Flagger's variables, and values that cannot change the query around them."""

from __future__ import annotations

import pytest

from coalmine.errors import TemplateError
from coalmine.metrics.templating import (
    TemplateContext,
    placeholders,
    render,
    template_errors,
    unknown_variables,
    variables_used,
)


def context(**changes: object) -> TemplateContext:
    values: dict[str, object] = {
        "name": "podinfo",
        "namespace": "test",
        "target": "podinfo",
        "service": "podinfo-svc",
        "interval": "1m",
        "variables": {"route": "/api", "quantile": "0.95"},
    }
    values.update(changes)
    return TemplateContext(**values)  # type: ignore[arg-type]


def test_every_flagger_variable_is_filled() -> None:
    template = (
        'x{a="{{ name }}",b="{{ namespace }}",c="{{ target }}",d="{{ service }}",'
        'e="{{ ingress }}",f="{{ route }}",g="{{ variables.route }}"}[{{ interval }}]'
    )
    assert render(template, context()) == (
        'x{a="podinfo",b="test",c="podinfo",d="podinfo-svc",e="podinfo",f="podinfo",g="/api"}[1m]'
    )


@pytest.mark.parametrize("spelling", ["{{namespace}}", "{{ namespace }}", "{{  namespace\t}}"])
def test_whitespace_inside_the_braces_is_optional(spelling: str) -> None:
    assert render(f'up{{ns="{spelling}"}}', context()) == 'up{ns="test"}'


def test_multi_line_templates_become_one_line_but_strings_keep_their_spaces() -> None:
    template = 'sum(\n\trate(\n\t\tx{path="/a  b"}[{{ interval }}]  # per second\n\t)\n)\n'
    assert render(template, context()) == 'sum( rate( x{path="/a  b"}[1m] ) )'


def test_placeholders_in_comments_are_ignored() -> None:
    assert render("up # uses {{ nothing }}", context()) == "up"
    assert placeholders("up # {{ nothing }}") == []


@pytest.mark.parametrize(
    ("namespace", "expected"),
    [
        ('te"st', 'up{ns="te\\"st"}'),
        ("te\\", 'up{ns="te\\\\"}'),
        ('x"} or vector(1) #', 'up{ns="x\\"} or vector(1) #"}'),
        ("a\nb", 'up{ns="a\\nb"}'),
    ],
)
def test_a_quote_backslash_or_newline_cannot_leave_the_label_matcher(
    namespace: str, expected: str
) -> None:
    assert render('up{ns="{{ namespace }}"}', context(namespace=namespace)) == expected


def test_single_quoted_strings_are_escaped_for_their_quote() -> None:
    assert render("up{ns='{{ namespace }}'}", context(namespace="it's")) == "up{ns='it\\'s'}"


def test_a_backtick_cannot_enter_a_raw_string() -> None:
    with pytest.raises(TemplateError, match="backtick"):
        render("up{ns=`{{ namespace }}`}", context(namespace="a`b"))


def test_object_names_in_regex_matchers_match_only_themselves() -> None:
    template = 'up{w=~"{{ target }}",p=~"{{ target }}-primary",eq="{{ target }}"}'
    assert render(template, context(target="a.b+c")) == (
        'up{w=~"a\\\\.b\\\\+c",p=~"a\\\\.b\\\\+c-primary",eq="a.b+c"}'
    )


def test_template_variables_in_regex_matchers_stay_patterns() -> None:
    template = 'up{path=~"{{ variables.route }}"}'
    assert render(template, context(variables={"route": "/api/.*"})) == 'up{path=~"/api/.*"}'


def test_names_without_metacharacters_render_as_flagger_does() -> None:
    assert render('up{w=~"{{ target }}"}', context(target="go-demo-7")) == 'up{w=~"go-demo-7"}'


def test_values_outside_strings_may_not_add_to_the_query() -> None:
    assert render("histogram_quantile({{ variables.quantile }}, x)", context()) == (
        "histogram_quantile(0.95, x)"
    )
    with pytest.raises(TemplateError, match="outside a quoted string") as caught:
        render("x[{{ variables.route }}]", context(variables={"route": "1m]) or vector(1"}))
    assert caught.value.kind == "unsafe"


def test_unknown_variable_is_an_error_with_a_suggestion() -> None:
    with pytest.raises(TemplateError) as caught:
        render('up{ns="{{ namspace }}"}', context(), source="template error-rate")
    assert caught.value.kind == "unknown"
    assert str(caught.value) == (
        "template error-rate: unknown variable {{ namspace }}; did you mean {{ namespace }}? "
        "valid variables are name, namespace, target, service, ingress, route, interval, "
        "analysisStart "
        "and variables.NAME (from templateVariables)"
    )


def test_unset_template_variable_is_an_error() -> None:
    with pytest.raises(TemplateError) as caught:
        render('up{r="{{ variables.host }}"}', context(), source="template error-rate")
    assert caught.value.kind == "unset"
    assert str(caught.value) == "template error-rate uses variables.host, which is not set"


def test_inspection_helpers() -> None:
    template = "{{ variables.b }} {{ a }} {{ variables.a }} {{ variables.b }} {{ .Values.x }}"
    assert variables_used(template) == ["b", "a"]
    assert unknown_variables(template) == ["a", ".Values.x"]
    kinds = [error.kind for error in template_errors(template, context(variables={}))]
    assert kinds == ["unset", "unknown", "unset", "unset", "unknown"]


def test_placeholders_know_their_string_and_matcher() -> None:
    found = placeholders(
        'x{a="{{ name }}", b=~"{{ target }}", c!~\'{{ service }}\'}[{{ interval }}]'
    )
    assert [(p.variable, p.quote, p.regex) for p in found] == [
        ("name", '"', False),
        ("target", '"', True),
        ("service", "'", True),
        ("interval", None, False),
    ]


def test_escaped_quote_in_the_template_does_not_end_the_string() -> None:
    found = placeholders('x{a="say \\"{{ name }}\\""}')
    assert found[0].quote == '"'
