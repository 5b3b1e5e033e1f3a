"""The kopf registry: which handlers ask for a finalizer (kopf internals, pinned here).

The behaviour users see (no finalizer without revertOnDeletion, one with it) is tested
end to end in tests/e2e/test_operator.py; this test says which kopf detail it rests on,
so that a kopf upgrade that changes it fails here first.
"""

from __future__ import annotations

from typing import Any

from coalmine.kube.handlers import build_registry, kopf_settings, reverts_on_deletion
from coalmine.kube.resources import CANARIES, FLAGGER_CANARIES


async def _login() -> Any:
    return None


def test_daemons_ask_for_no_finalizer_and_the_revert_handler_only_when_filtered() -> None:
    import kopf

    registry = build_registry(None, (CANARIES, FLAGGER_CANARIES), _login)  # type: ignore[arg-type]

    daemons = registry._spawning.get_all_handlers()
    changing = registry._changing.get_all_handlers()
    assert len(daemons) == 2
    assert all(handler.requires_finalizer is False for handler in daemons)
    [coalmine, flagger] = [h for h in changing if h.reason == kopf.Reason.DELETE]
    assert coalmine.requires_finalizer and coalmine.when is reverts_on_deletion
    assert {coalmine.selector.group, flagger.selector.group} == {"coalmine.dev", "flagger.app"}


def test_the_filter_reads_revert_on_deletion() -> None:
    assert reverts_on_deletion(spec={"revertOnDeletion": True})
    assert not reverts_on_deletion(spec={})


def test_kopf_keeps_its_bookkeeping_out_of_the_status_and_posts_no_events() -> None:
    import kopf

    settings = kopf_settings()

    assert settings.persistence.finalizer == "coalmine.dev/finalizer"
    assert isinstance(settings.persistence.progress_storage, kopf.AnnotationsProgressStorage)
    assert isinstance(settings.persistence.diffbase_storage, kopf.AnnotationsDiffBaseStorage)
    assert not settings.posting.enabled
