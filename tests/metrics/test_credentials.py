"""Credential sources for local mode: a YAML file, environment variables, a dict."""

from __future__ import annotations

from pathlib import Path

import pytest

from coalmine.errors import CoalmineError, NotFound
from coalmine.metrics import (
    Credentials,
    EnvCredentialSource,
    FileCredentialSource,
    StaticCredentialSource,
)


async def test_file_source_reads_token_or_basic_auth(tmp_path: Path) -> None:
    path = tmp_path / "secrets.yaml"
    path.write_text(
        "prom-token:\n  token: abc\nprom-basic:\n  username: me\n  password: pw\n"
        "broken:\n  user: me\n"
    )
    source = FileCredentialSource(path)
    assert await source.get("prom-token", "any") == Credentials(token="abc")
    assert await source.get("prom-basic", "any") == Credentials(username="me", password="pw")
    with pytest.raises(CoalmineError, match=r"broken: needs the key token, or .* \(has: user\)"):
        await source.get("broken", "any")
    with pytest.raises(
        NotFound, match=r"secret nope not found in .* \(has: broken, prom-basic, prom-token\)"
    ):
        await source.get("nope", "any")


async def test_file_source_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="cannot read credentials file"):
        await FileCredentialSource(tmp_path / "missing.yaml").get("x", "default")


async def test_env_source_reads_variables_named_after_the_secret() -> None:
    environ = {
        "COALMINE_SECRET_PROM_AUTH_TOKEN": "abc",
        "COALMINE_SECRET_BASIC_USERNAME": "me",
        "COALMINE_SECRET_BASIC_PASSWORD": "pw",
    }
    source = EnvCredentialSource(environ)
    assert await source.get("prom-auth", "default") == Credentials(token="abc")
    assert await source.get("basic", "default") == Credentials(username="me", password="pw")
    with pytest.raises(NotFound, match="set COALMINE_SECRET_OTHER_TOKEN, or"):
        await source.get("other", "default")


async def test_static_source_and_secrets_stay_out_of_repr() -> None:
    credentials = Credentials(username="me", password="hunter2")
    source = StaticCredentialSource({"basic": credentials})
    assert await source.get("basic", "ns") is credentials
    assert "hunter2" not in repr(credentials)
    assert "abc" not in repr(Credentials(token="abc"))
    with pytest.raises(NotFound, match="secret x not found"):
        await source.get("x", "ns")
