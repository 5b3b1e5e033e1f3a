"""Parsing untrusted text into plain data, bounded: the one loader every entry point uses.

`coalmine validate`, `coalmine apply`, the local API, the load tester and the operator
all read input someone else may have written. PyYAML's `safe_load` refuses to build
arbitrary objects, but not these, which this module refuses with a message:

- **size**: a document above `max_document_bytes`, a request above `max_request_bytes`;
- **alias bombs**: aliases are shared nodes, so a 700-byte file can stand for billions
  of values once anything walks it (pydantic, json.dumps). The composed node graph is
  measured with each alias counted as the whole of what it expands to, before anything
  is built, and refused above `max_nodes`; a recursive alias is refused outright;
- **nesting**: deeper than `max_depth` (PyYAML's composer and the json module recurse,
  and a `RecursionError` is no message);
- **duplicate keys**: YAML says a mapping's keys are unique; PyYAML keeps the last.
  Refused, naming the key and both lines.

JSON bodies get the same limits through `load_json`, and data that arrives already
parsed (an object the operator reads from the API server) through `check_shape`.
Errors are `ParseError` (a ManifestError): no traceback, no hang, no memory blow-up.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from coalmine.errors import ManifestError, Problem

__all__ = [
    "DEFAULT_LIMITS",
    "MIB",
    "ParseError",
    "ParseLimits",
    "check_shape",
    "load_json",
    "load_yaml_documents",
]

MIB = 1024 * 1024


@dataclass(frozen=True)
class ParseLimits:
    """What one input may hold. The defaults are far above any real manifest."""

    max_request_bytes: int = 8 * MIB
    """One request, file or JSON body: every document together."""
    max_document_bytes: int = 4 * MIB
    """One YAML document (between `---` lines), counted in characters."""
    max_nodes: int = 200_000
    """Values in one document, each alias counted as everything it expands to."""
    max_depth: int = 64
    """Nested mappings and lists (a Kubernetes manifest nests about 15 deep)."""


DEFAULT_LIMITS = ParseLimits()


class ParseError(ManifestError):
    """The input cannot be read safely; the message says which limit and how to fix it."""

    def __init__(self, source: str, message: str) -> None:
        super().__init__([Problem(source, "", message)])


def load_yaml_documents(
    text: str, *, source: str = "<input>", limits: ParseLimits = DEFAULT_LIMITS
) -> list[Any]:
    """Every non-empty document of a YAML stream as plain data, or ParseError."""
    _check_size(len(text.encode("utf-8", "surrogatepass")), limits.max_request_bytes, source)
    documents: list[Any] = []
    try:
        loader = _BoundedLoader(text, limits)  # the reader checks characters here already
    except yaml.YAMLError as error:
        raise ParseError(_where(source, error), f"not valid YAML: {_problem(error)}") from None
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            where = f"{source} document {len(documents) + 1}"
            loader.check_node_size(node, where)
            _check_graph(node, limits, where)
            document = loader.construct_document(node)
            if document is not None:
                documents.append(document)
    except yaml.YAMLError as error:
        raise ParseError(_where(source, error), f"not valid YAML: {_problem(error)}") from None
    finally:
        loader.dispose()
    return documents


def load_json(
    body: bytes | str, *, source: str = "the request body", limits: ParseLimits = DEFAULT_LIMITS
) -> Any:
    """A JSON value, or ParseError (too large, too deep, duplicate keys, not JSON).

    A body is one request, so it is held to `max_request_bytes`."""
    size = len(body) if isinstance(body, bytes) else len(body.encode("utf-8", "surrogatepass"))
    _check_size(size, limits.max_request_bytes, source)
    try:
        value = json.loads(body, object_pairs_hook=_unique_pairs)
    except _DuplicateKey as error:
        raise ParseError(source, f"duplicate key {error.key!r}; keep one") from None
    except RecursionError:
        raise ParseError(source, f"nested deeper than {limits.max_depth} levels") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise ParseError(source, f"not valid JSON: {error}") from None
    check_shape(value, source=source, limits=limits)
    return value


def check_shape(
    value: Any, *, source: str = "<input>", limits: ParseLimits = DEFAULT_LIMITS
) -> None:
    """Refuse data nested deeper than max_depth or holding more than max_nodes values.

    Iterative, so that data too deep for recursion is refused rather than crashing.
    """
    count = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        count += 1
        if count > limits.max_nodes:
            raise ParseError(source, f"more than {limits.max_nodes} values; split it up")
        if isinstance(item, dict | list):
            if depth > limits.max_depth:
                raise ParseError(source, f"nested deeper than {limits.max_depth} levels")
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


# -- YAML ----------------------------------------------------------------------------


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that stops composing past max_depth and refuses duplicate keys."""

    def __init__(self, text: str, limits: ParseLimits) -> None:
        super().__init__(text)
        self.limits = limits
        self._depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        self._depth += 1
        try:
            if self._depth > self.limits.max_depth:
                event: Any = self.peek_event()  # type: ignore[no-untyped-call]
                raise ComposerError(
                    None,
                    None,
                    f"nested deeper than {self.limits.max_depth} levels",
                    event.start_mark,
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def check_node_size(self, node: Node, where: str) -> None:
        size = node.end_mark.index - node.start_mark.index
        if size > self.limits.max_document_bytes:
            raise ParseError(
                where,
                f"{size} characters; one document may hold at most "
                f"{self.limits.max_document_bytes} ({_mib(self.limits.max_document_bytes)})",
            )

    def compose_mapping_node(self, anchor: Any) -> MappingNode:
        node: MappingNode = super().compose_mapping_node(anchor)
        seen: dict[tuple[str, str], int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == MERGE_TAG:
                continue
            key = (key_node.tag, key_node.value)
            if key in seen:
                raise ConstructorError(
                    None,
                    None,
                    f"duplicate key {key_node.value!r} (first on line {seen[key]}); keep one",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line + 1
        return node


MERGE_TAG = "tag:yaml.org,2002:merge"


def _check_graph(root: Node, limits: ParseLimits, where: str) -> None:
    """Refuse a node graph whose expansion (aliases counted in full) is too big or deep.

    Sizes are memoised per node, so the walk is linear in the text even when the
    expansion is exponential; a node met again while its own walk is open is a cycle.
    """
    sizes: dict[int, tuple[int, int]] = {}
    open_nodes: set[int] = set()
    for node, children_done in _post_order(root, open_nodes, where):
        if not children_done:
            continue
        size, depth = 1, 1
        for child in _children(node):
            child_size, child_depth = sizes[id(child)]
            size += child_size
            depth = max(depth, child_depth + 1)
        if size > limits.max_nodes:
            raise ParseError(
                where,
                f"aliases expand to more than {limits.max_nodes} values (an alias bomb?); "
                "write the values out or use fewer aliases",
            )
        if depth > limits.max_depth:
            raise ParseError(where, f"aliases nest deeper than {limits.max_depth} levels")
        sizes[id(node)] = (size, depth)


def _post_order(root: Node, open_nodes: set[int], where: str) -> Iterator[tuple[Node, bool]]:
    """Each node after its children (iteratively); shared nodes are visited once."""
    done: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            open_nodes.discard(id(node))
            done.add(id(node))
            yield node, True
            continue
        if id(node) in done:
            continue
        if id(node) in open_nodes:
            raise ParseError(where, "an alias refers to a value that contains it (recursive)")
        open_nodes.add(id(node))
        stack.append((node, True))
        for child in _children(node):
            if id(child) in open_nodes:
                raise ParseError(where, "an alias refers to a value that contains it (recursive)")
            if id(child) not in done:
                stack.append((child, False))


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _check_size(size: int, limit: int, source: str) -> None:
    if size > limit:
        raise ParseError(source, f"{size} bytes; at most {limit} ({_mib(limit)}) are accepted")


def _mib(size: int) -> str:
    return f"{size / MIB:.3g} MiB"


def _where(source: str, error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    if mark is not None:
        return f"{source} line {mark.line + 1}"
    position = getattr(error, "position", None)  # a ReaderError: a character YAML forbids
    return f"{source} character {position + 1}" if isinstance(position, int) else source


def _problem(error: yaml.YAMLError) -> str:
    return str(getattr(error, "problem", None) or error)


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result
