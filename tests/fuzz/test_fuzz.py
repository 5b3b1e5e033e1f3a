"""Fuzzing every entry point that reads manifests: 0 tracebacks, exit codes 0 or 1, no 500.

Cases come from `coalmine.testing.fuzzing`: every manifest under examples/ mutated (values,
characters, lines) and the hostile shapes of issue 11 (alias and merge bombs, deep
nesting, duplicate keys, recursive aliases, bad regexes, non-http addresses, big
documents, junk). Hypothesis draws the random generator with a fixed seed and a
bounded number of examples, so CI runs the same cases every time; `benchmarks/fuzz.py`
runs 10,000.
"""

from __future__ import annotations

import json
import random
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from coalmine.api.loading import CUSTOM_RESOURCES, LOCAL_RESOURCES, load_text
from coalmine.cli.main import app
from coalmine.local.runtime import LocalRuntime
from coalmine.metrics.validation import check_metric_queries
from coalmine.testing.fuzzing import HOSTILE_SHAPES, example_corpus, fuzz_case
from tests.fixtures.background import BackgroundLoop
from tests.fixtures.local import runtime_settings

EXAMPLES = Path(__file__).parents[2] / "examples"
CORPUS = example_corpus(EXAMPLES)
SEED = 20261202

cases = st.randoms(use_true_random=False).map(lambda rng: fuzz_case(rng, CORPUS))
bounded = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def test_the_corpus_holds_every_example() -> None:
    assert len(CORPUS) == len([p for p in EXAMPLES.rglob("*") if p.suffix in (".yaml", ".yml")])
    assert len(CORPUS) >= 8


@pytest.mark.parametrize("shape", [name for name, _ in HOSTILE_SHAPES])
def test_every_hostile_shape_is_answered_with_problems_not_an_exception(shape: str) -> None:
    make = dict(HOSTILE_SHAPES)[shape]
    for variant in range(5):
        loaded = load_text(make(random.Random(variant)), kinds=LOCAL_RESOURCES)
        if shape not in ("merge bomb",):  # a small merge chain is valid YAML, just no manifest
            assert loaded.problems, shape


@seed(SEED)
@bounded
@given(case=cases)
def test_loading_never_raises(case: tuple[str, str]) -> None:
    _, text = case
    for kinds in (CUSTOM_RESOURCES, LOCAL_RESOURCES):
        loaded = load_text(text, kinds=kinds, skip_other_kinds=kinds is CUSTOM_RESOURCES)
        check_metric_queries(loaded.resources)
        assert all(str(p) for p in loaded.problems)


@seed(SEED)
@settings(bounded, max_examples=60)
@given(case=cases)
def test_validate_exits_0_or_1_without_a_traceback(
    case: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    _, text = case
    path = tmp_path_factory.mktemp("case") / "case.yaml"
    path.write_text(text, errors="surrogatepass")
    for extra in ([], ["--local"]):
        result = CliRunner().invoke(app, ["validate", "-f", str(path), "-q", *extra])
        assert result.exit_code in (0, 1), result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            result.exception
        )
        assert "Traceback" not in result.output


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    """A real `coalmine up` runtime (Envoy included), serving from a background loop."""
    loop = BackgroundLoop()
    runtime = LocalRuntime(runtime_settings(tmp_path_factory.mktemp("up") / "state"))
    loop.run(runtime.start(), timeout=60)
    try:
        yield runtime
    finally:
        loop.run(runtime.stop(), timeout=60)
        loop.close()


ANSWERS = {200, 400, 404, 413, 422}
"""What the API may answer a fuzz case: applied, a bad body, not found, too large, invalid."""


def post(runtime: LocalRuntime, path: str, body: bytes) -> int:
    assert runtime.api is not None
    request = urllib.request.Request(
        runtime.api.url + path,
        data=body,
        method="POST",
        headers={
            "Authorization": f"Bearer {runtime.api.token}",
            "Content-Type": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


@pytest.mark.slow
@seed(SEED)
@settings(bounded, max_examples=60)
@given(case=cases, delete=st.booleans())
def test_the_local_api_never_answers_500(
    runtime: LocalRuntime, case: tuple[str, str], delete: bool
) -> None:
    name, text = case
    # Deployments would start processes; a fuzzed replica count could start thousands.
    text = text.replace("kind: Deployment", "kind: Deploymentx")
    body = json.dumps({"text": text, "source": name}).encode("utf-8", "surrogatepass")
    status = post(runtime, "/v1/delete" if delete else "/v1/apply", body)
    assert status in ANSWERS, (status, name, text[:500])


@pytest.mark.slow
@seed(SEED)
@settings(bounded, max_examples=60)
@given(
    body=st.binary(max_size=2000)
    | st.recursive(st.none(), st.lists, max_leaves=200).map(
        lambda value: json.dumps(value).encode()
    )
)
def test_wrong_bodies_are_400s(runtime: LocalRuntime, body: bytes) -> None:
    for path in ("/v1/apply", "/v1/canaries/a/b/request", "/v1/deployments/a/b/env"):
        assert post(runtime, path, body) in ANSWERS
