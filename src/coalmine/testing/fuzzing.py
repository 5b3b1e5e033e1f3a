"""Fuzz cases for manifests: mutated examples and the hostile shapes issue 11 found.

`fuzz_case(rng, corpus)` makes one YAML text from a seeded `random.Random`, so a run is
reproducible from its seed. The test suite drives it from hypothesis (fixed seed,
bounded examples); `benchmarks/fuzz.py` runs 10,000 cases. Every case must be answered
with a result or a clear error: never a traceback, a hang, or a memory blow-up.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

__all__ = ["HOSTILE_SHAPES", "example_corpus", "fuzz_case"]

Case = tuple[str, str]
"""(what kind of case, the YAML text)."""


def example_corpus(root: Path) -> list[str]:
    """Every YAML manifest under `root` (the repository's examples/), one text per file."""
    return [p.read_text() for p in sorted(root.rglob("*")) if p.suffix in (".yaml", ".yml")]


def fuzz_case(rng: random.Random, corpus: Sequence[str]) -> Case:
    """One case: a hostile shape (one in five) or a mutated example."""
    if rng.random() < 0.2:
        name, make = rng.choice(HOSTILE_SHAPES)
        return name, make(rng)
    text = rng.choice(corpus)
    mutate = rng.choice(_MUTATIONS)
    return mutate.__name__.lstrip("_"), mutate(rng, text)


# -- hostile shapes ------------------------------------------------------------------------


def _alias_bomb(rng: random.Random) -> str:
    levels = rng.randint(5, 12)
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "apiVersion: flagger.app/v1beta1\nkind: Canary\n" + "\n".join(lines) + "\n"


def _merge_bomb(rng: random.Random) -> str:
    levels = rng.randint(10, 30)
    lines = ["m0: &m0 {k0: 1}"]
    lines += [f"m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}], k{i}: 1}}" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def _deep_nesting(rng: random.Random) -> str:
    depth = rng.choice([100, 1000, 10_000])
    opening, closing = rng.choice([("[", "]"), ("{a: ", "}")])
    return f"apiVersion: v1\nkind: Service\nx: {opening * depth}1{closing * depth}\n"


def _duplicate_keys(rng: random.Random) -> str:
    key = rng.choice(["spec", "metadata", "kind", "name"])
    return f"apiVersion: v1\nkind: Service\n{key}: {{a: 1}}\n{key}: {{b: 2}}\n"


def _recursive_alias(rng: random.Random) -> str:
    return rng.choice(["a: &a [1, *a]\n", "a: &a {b: *a}\n", "*undefined\n"])


def _bad_regex(rng: random.Random) -> str:
    pattern = rng.choice(["([", "(?=x)", "a{1,1001}", "[a-z]{1,60}x", "\\\\", "(?P<n>a)(?P=n)"])
    return (
        "apiVersion: networking.istio.io/v1beta1\nkind: VirtualService\n"
        "metadata: {name: r, namespace: default}\n"
        "spec:\n  hosts: [r]\n  http:\n"
        f"  - match: [{{uri: {{regex: {pattern!r}}}}}]\n"
        "    route: [{destination: {host: r}}]\n"
    )


def _file_address(rng: random.Random) -> str:
    address = rng.choice(["file:///etc/passwd", "gopher://x", "prometheus:9090", "http://"])
    return (
        "apiVersion: flagger.app/v1beta1\nkind: MetricTemplate\nmetadata: {name: t}\n"
        f"spec: {{provider: {{type: prometheus, address: {address!r}}}, query: up}}\n"
    )


def _big_document(rng: random.Random) -> str:
    return "apiVersion: v1\nkind: Service\nx: '" + "y" * rng.choice([10_000, 300_000]) + "'\n"


def _binary_junk(rng: random.Random) -> str:
    return "".join(chr(rng.randint(0, 0x2FF)) for _ in range(rng.randint(1, 400)))


HOSTILE_SHAPES: Sequence[tuple[str, Callable[[random.Random], str]]] = (
    ("alias bomb", _alias_bomb),
    ("merge bomb", _merge_bomb),
    ("deep nesting", _deep_nesting),
    ("duplicate keys", _duplicate_keys),
    ("recursive alias", _recursive_alias),
    ("bad regex", _bad_regex),
    ("non-http address", _file_address),
    ("big document", _big_document),
    ("junk", _binary_junk),
)
"""The shapes the issue reported, each as a generator of variants."""


# -- mutations of real manifests --------------------------------------------------------

_ODD_VALUES: tuple[Any, ...] = (
    None,
    0,
    -1,
    2**63,
    1e308,
    float("nan"),
    "",
    "([",
    "10q",
    "-5s",
    "file:///etc/passwd",
    "x" * 300,
    [],
    {},
    [[[[1]]]],
    True,
    "ünïcödé",
    "a\nb",
)


def _mutate_values(rng: random.Random, text: str) -> str:
    """Parse the example, replace or delete a few of its values, and write YAML again."""
    documents = [d for d in yaml.safe_load_all(text) if d is not None]
    for _ in range(rng.randint(1, 4)):
        if documents:
            _poke(rng, rng.choice(documents))
    return yaml.safe_dump_all(documents, sort_keys=False)


def _poke(rng: random.Random, node: Any) -> None:
    """Change one value somewhere inside `node` (a dict or list)."""
    for _ in range(rng.randint(0, 6)):
        children = list(node.items()) if isinstance(node, dict) else list(enumerate(node))
        nested = [(k, v) for k, v in children if isinstance(v, dict | list) and v]
        if not nested or rng.random() < 0.3:
            break
        _, node = rng.choice(nested)
    if isinstance(node, dict) and node:
        key = rng.choice(list(node))
        roll = rng.random()
        if roll < 0.25:
            del node[key]
        elif roll < 0.35:
            node[f"{key}x"] = node[key]
        else:
            node[key] = rng.choice(_ODD_VALUES)
    elif isinstance(node, list) and node:
        index = rng.randrange(len(node))
        node[index] = rng.choice(_ODD_VALUES) if rng.random() < 0.7 else node[index]
        if rng.random() < 0.3:
            node.append(node[index])


def _mutate_text(rng: random.Random, text: str) -> str:
    """Byte-level damage: delete, duplicate or insert characters."""
    chars = list(text)
    for _ in range(rng.randint(1, 8)):
        if not chars:
            break
        at = rng.randrange(len(chars))
        roll = rng.random()
        if roll < 0.4:
            del chars[at]
        elif roll < 0.7:
            chars.insert(at, rng.choice(":-[]{}&*!|>#'\"\t\n %@`"))
        else:
            chars.insert(at, chars[at] * rng.randint(1, 20))
    return "".join(chars)


def _mutate_lines(rng: random.Random, text: str) -> str:
    """Line-level damage: swap, repeat or drop lines (duplicate keys, broken indentation)."""
    lines = text.splitlines()
    for _ in range(rng.randint(1, 4)):
        if not lines:
            break
        at = rng.randrange(len(lines))
        roll = rng.random()
        if roll < 0.35:
            lines.insert(at, lines[at])
        elif roll < 0.7:
            del lines[at]
        else:
            other = rng.randrange(len(lines))
            lines[at], lines[other] = lines[other], lines[at]
    return "\n".join(lines) + "\n"


_MUTATIONS = (_mutate_values, _mutate_text, _mutate_lines)
