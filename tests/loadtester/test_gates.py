"""The gate endpoints answer as Flagger's load tester does."""

from __future__ import annotations

from tests.fixtures.hooks import post_json

PODINFO = {"name": "podinfo", "namespace": "test"}


async def test_approve_and_halt_answer_the_same_whatever_is_sent(loadtester: str) -> None:
    assert await post_json(f"{loadtester}/gate/approve", {}) == (200, "Approved")
    assert await post_json(f"{loadtester}/gate/halt", PODINFO) == (403, "Forbidden")


async def test_gate_and_rollback_gate_are_separate_and_closed_until_opened(
    loadtester: str,
) -> None:
    assert await post_json(f"{loadtester}/gate/check", PODINFO) == (403, "Forbidden")
    assert await post_json(f"{loadtester}/gate/open", PODINFO) == (
        202,
        "gate opened for podinfo.test",
    )
    assert await post_json(f"{loadtester}/gate/check", PODINFO) == (200, "Approved")
    assert await post_json(f"{loadtester}/rollback/check", PODINFO) == (403, "Forbidden")
    await post_json(f"{loadtester}/rollback/open", PODINFO)
    await post_json(f"{loadtester}/gate/close", PODINFO)
    assert await post_json(f"{loadtester}/rollback/check", PODINFO) == (200, "Approved")
    assert await post_json(f"{loadtester}/gate/check", PODINFO) == (403, "Forbidden")


async def test_a_payload_without_the_canary_is_refused(loadtester: str) -> None:
    assert await post_json(f"{loadtester}/gate/open", {"name": "podinfo"}) == (
        400,
        "the payload needs the canary's name and namespace (non-empty strings)",
    )
