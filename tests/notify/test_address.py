from pathlib import Path

import pytest

from coalmine.errors import NotFound
from coalmine.notify import LocalSecrets, resolve_address, secret_env_var
from tests.fixtures.notify import make_provider


def test_secret_env_var_names_are_upper_case_with_underscores() -> None:
    assert secret_env_var("on-call.url", "address") == "COALMINE_SECRET_ON_CALL_URL_ADDRESS"


async def test_spec_address_is_used_without_a_secret(tmp_path: Path) -> None:
    provider = make_provider("chat", "slack", "https://hooks.example/1")
    assert await resolve_address(provider, LocalSecrets(tmp_path, {})) == "https://hooks.example/1"


async def test_a_secret_wins_over_spec_address_as_in_flagger(tmp_path: Path) -> None:
    provider = make_provider(
        "chat", "slack", "https://ignored.example", secretRef={"name": "on-call"}
    )
    secret_file = tmp_path / "secrets" / "on-call" / "address"
    secret_file.parent.mkdir(parents=True)
    secret_file.write_text("https://hooks.example/from-file\n")

    assert await resolve_address(provider, LocalSecrets(tmp_path, {})) == (
        "https://hooks.example/from-file"
    )


async def test_the_environment_wins_over_the_file(tmp_path: Path) -> None:
    provider = make_provider("chat", "slack", secretRef={"name": "on-call"})
    secret_file = tmp_path / "secrets" / "on-call" / "address"
    secret_file.parent.mkdir(parents=True)
    secret_file.write_text("https://hooks.example/from-file")
    environ = {"COALMINE_SECRET_ON_CALL_ADDRESS": "https://hooks.example/from-env"}

    assert await resolve_address(provider, LocalSecrets(tmp_path, environ)) == (
        "https://hooks.example/from-env"
    )


async def test_a_missing_secret_says_where_to_put_it(tmp_path: Path) -> None:
    provider = make_provider("chat", "slack", secretRef={"name": "on-call"})

    with pytest.raises(NotFound) as error:
        await resolve_address(provider, LocalSecrets(tmp_path, {}))

    message = str(error.value)
    assert "COALMINE_SECRET_ON_CALL_ADDRESS" in message
    assert str(tmp_path / "secrets" / "on-call" / "address") in message
