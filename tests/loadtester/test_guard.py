"""Who may ask the load tester for what: commands off by default, a token, no browsers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from coalmine.loadtester import TaskSettings, create_app
from tests.fixtures.hooks import TOKEN, post_json, serve

CANARY = {"name": "go-demo-7", "namespace": "test"}


@pytest.fixture
async def default_loadtester() -> AsyncIterator[str]:
    """A load tester as `coalmine loadtester` starts it without flags."""
    runner, url = await serve(create_app())
    yield url
    await runner.cleanup()


def marker_command(path: Path) -> dict[str, str]:
    return {"type": "bash", "cmd": f"touch {path}"}


async def test_commands_are_refused_by_default(default_loadtester: str, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    for kind in ("bash", "cmd"):
        status, text = await post_json(
            f"{default_loadtester}/",
            {**CANARY, "metadata": {**marker_command(marker), "type": kind}},
            token=None,
        )
        assert status == 403
        assert text.startswith(
            f"{kind} tasks are off: start the load tester with --enable-commands"
        )
    assert not marker.exists()


async def test_gates_work_without_commands(default_loadtester: str) -> None:
    assert (await post_json(f"{default_loadtester}/gate/open", CANARY, token=None))[0] == 202
    assert await post_json(f"{default_loadtester}/gate/check", CANARY, token=None) == (
        200,
        "Approved",
    )


async def test_with_commands_on_a_request_without_the_token_runs_nothing(
    loadtester: str, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    payload = {**CANARY, "metadata": marker_command(marker)}
    for token in (None, "wrong"):
        status, text = await post_json(f"{loadtester}/", payload, token=token)
        assert (status, text) == (401, "missing or wrong token: send Authorization: Bearer <token>")
    assert not marker.exists()
    assert (await post_json(f"{loadtester}/", payload, token=TOKEN))[0] == 200
    assert marker.exists()


async def test_a_browser_request_is_refused(loadtester: str, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    payload = {**CANARY, "metadata": marker_command(marker)}
    status, text = await post_json(
        f"{loadtester}/", payload, headers={"Origin": "https://evil.example"}
    )
    assert status == 403
    assert "Origin" in text
    assert not marker.exists()


async def test_a_body_that_is_not_declared_json_is_refused(loadtester: str, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    body = json.dumps({**CANARY, "metadata": marker_command(marker)})
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{loadtester}/",
            data=body,
            headers={"Content-Type": "text/plain", "Authorization": f"Bearer {TOKEN}"},
        ) as response,
    ):
        assert response.status == 415
    assert not marker.exists()


async def test_bad_json_is_a_400_with_a_message(loadtester: str) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{loadtester}/",
            data=b"[" * 10_000,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
        ) as response,
    ):
        assert response.status == 400
        assert "nested deeper than 64 levels" in await response.text()


def test_commands_need_a_token() -> None:
    with pytest.raises(ValueError, match="commands need a token"):
        TaskSettings(commands=True)
