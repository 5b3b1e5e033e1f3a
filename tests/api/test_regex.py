"""Regexes are checked with RE2 as Envoy compiles them."""

from __future__ import annotations

from coalmine.api.loading import LOCAL_RESOURCES, load_text
from coalmine.api.regex import re2_problem


def test_re2_refuses_what_envoy_refuses() -> None:
    assert re2_problem("^/demo/.*") is None
    assert re2_problem("(?i)insider") is None
    assert re2_problem("([") == "not a valid RE2 regex (Envoy's syntax): missing ]: ["
    problem = re2_problem("(?=lookahead)")  # Python's re accepts it; RE2 does not
    assert problem is not None and "invalid perl operator" in problem


def test_a_pattern_over_envoys_program_size_is_refused() -> None:
    assert re2_problem("[a-z]{1,30}x") is None
    problem = re2_problem("[a-z]{1,60}x")
    assert problem is not None
    assert "RE2 program size 124 is above Envoy's limit of 100" in problem


BAD_ROUTE = """
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: bad, namespace: default}
spec:
  hosts: [bad.example]
  http:
    - match: [{headers: {x-user: {regex: "(["}}}]
      route: [{destination: {host: bad}}]
"""


def test_validate_local_rejects_a_virtual_service_with_a_bad_regex() -> None:
    loaded = load_text(BAD_ROUTE, kinds=LOCAL_RESOURCES)
    assert [str(p) for p in loaded.problems] == [
        "virtualservice bad: spec.http[0].match[0].headers.x-user: regex '([': "
        "not a valid RE2 regex (Envoy's syntax): missing ]: ["
    ]
