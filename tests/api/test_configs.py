"""ConfigMap and Secret: validated as the Kubernetes API server validates them."""

from __future__ import annotations

import base64

import pytest

from coalmine.api.configs import MAX_CONFIG_BYTES, ConfigMap, Secret, decoded
from coalmine.api.loading import CUSTOM_RESOURCES, LOCAL_RESOURCES, load_text
from coalmine.api.redaction import HIDDEN, redact_object


def load(text: str) -> tuple[list[object], list[str]]:
    loaded = load_text(text, kinds=LOCAL_RESOURCES)
    return list(loaded.resources), [str(p) for p in loaded.problems]


def test_a_config_map_and_a_secret_load_with_their_content() -> None:
    resources, problems = load(
        """
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: demo}
data: {GREETING: hello, app.conf: "mode=fast\\n"}
binaryData: {logo.bin: AAEC}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: demo}
type: Opaque
data: {password: c2VjcmV0}
stringData: {user: admin}
"""
    )
    assert problems == []
    config_map, secret = resources
    assert isinstance(config_map, ConfigMap) and isinstance(secret, Secret)
    assert decoded(config_map) == {
        "GREETING": b"hello",
        "app.conf": b"mode=fast\n",
        "logo.bin": b"\x00\x01\x02",
    }
    assert decoded(secret) == {"password": b"secret", "user": b"admin"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("data: {'bad key': x}", "key 'bad key': must consist of alphanumerics"),
        ("data: {'..x': x}", "must not be '.' or '..' nor start with '..'"),
        ("data: {a: x}\nbinaryData: {a: eA==}", "keys ['a'] are in both data and binaryData"),
        ("binaryData: {a: 'not base64!'}", "binaryData.a: must be base64"),
        ("immutable: maybe", "immutable"),
        ("dta: {a: x}", "did you mean data?"),
    ],
)
def test_an_invalid_config_map_names_the_problem(body: str, expected: str) -> None:
    _, problems = load(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c}}\n{body}\n")
    assert len(problems) == 1 and expected in problems[0], problems


def test_content_above_one_mebibyte_is_refused_as_kubernetes_refuses_it() -> None:
    at_limit = "x" * MAX_CONFIG_BYTES
    _, problems = load(
        f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c}}\ndata: {{a: {at_limit}}}\n"
    )
    assert problems == []
    _, problems = load(
        f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c}}\ndata: {{a: {at_limit}, b: y}}\n"
    )
    assert len(problems) == 1 and f"{MAX_CONFIG_BYTES + 1} bytes" in problems[0]
    # a Secret's limit counts decoded bytes, stringData included
    encoded = base64.b64encode(b"x" * MAX_CONFIG_BYTES).decode()
    _, problems = load(
        f"apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\ndata: {{a: {encoded}}}\n"
        "stringData: {b: y}\n"
    )
    assert len(problems) == 1 and "secret content is" in problems[0]


def test_secret_data_must_be_base64() -> None:
    _, problems = load("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {a: '%%'}\n")
    assert len(problems) == 1 and "data.a: must be base64" in problems[0]


def test_config_maps_are_local_kinds_only() -> None:
    """On a cluster coalmine never applies them: they are not among its own resources."""
    assert "ConfigMap" not in CUSTOM_RESOURCES and "Secret" not in CUSTOM_RESOURCES
    _, problems = load("apiVersion: v2\nkind: Secret\nmetadata: {name: s}\n")
    assert problems and "apiVersion: must be v1" in problems[0]


def test_a_printed_secret_shows_its_keys_only() -> None:
    manifest = {"kind": "Secret", "data": {"password": "c2VjcmV0"}, "type": "Opaque"}
    assert redact_object("Secret", manifest) == {
        "kind": "Secret",
        "data": {"password": HIDDEN},
        "type": "Opaque",
    }
    assert manifest["data"] == {"password": "c2VjcmV0"}  # the stored object is untouched
