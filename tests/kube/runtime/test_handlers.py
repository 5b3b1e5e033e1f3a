"""The kopf registry: which handlers ask for a finalizer (kopf's registry, pinned here).

The behaviour users see (every Canary carries coalmine's finalizer, so that its
deletion keeps what serves) is tested end to end in tests/e2e/test_operator.py; this
test says which kopf detail it rests on, so that a kopf upgrade that changes it fails
here first.
"""

from __future__ import annotations

from typing import Any

from coalmine.kube.adapters.resources import CANARIES, FLAGGER_CANARIES
from coalmine.kube.runtime.handlers import build_registry, kopf_settings


async def _login() -> Any:
    return None


def test_every_canary_gets_the_finalizer_from_an_unfiltered_deletion_handler() -> None:
    import kopf

    registry = build_registry(None, (CANARIES, FLAGGER_CANARIES), _login)  # type: ignore[arg-type]

    changing = registry._changing.get_all_handlers()
    deletions = [h for h in changing if h.reason == kopf.Reason.DELETE]
    assert [h.requires_finalizer for h in deletions] == [True, True]
    assert [h.when for h in deletions] == [None, None]  # no filter: every Canary
    assert {h.selector.group for h in deletions} == {"coalmine.dev", "flagger.app"}
    assert registry._spawning.get_all_handlers() == []  # loops are coalmine's tasks
    noticing = [h for h in registry._watching.get_all_handlers() if h.id.startswith("notice-")]
    assert [h.when for h in noticing] == [None, None]  # every Canary is seen, for takeovers


def test_kopf_watches_only_the_canaries() -> None:
    """Taken-over routing objects are repaired from the read cache's watch
    (`kube.runtime.repair`): kopf would remember every Service of the namespaces."""
    registry = build_registry(None, (CANARIES, FLAGGER_CANARIES), _login)  # type: ignore[arg-type]

    handlers = [
        *registry._watching.get_all_handlers(),
        *registry._changing.get_all_handlers(),
        *registry._spawning.get_all_handlers(),
    ]
    assert {h.selector.any_name for h in handlers} == {"canaries"}


def test_kopf_keeps_its_bookkeeping_out_of_the_status_and_posts_no_events() -> None:
    import kopf

    settings = kopf_settings()

    assert settings.persistence.finalizer == "coalmine.dev/finalizer"
    assert isinstance(settings.persistence.progress_storage, kopf.AnnotationsProgressStorage)
    assert isinstance(settings.persistence.diffbase_storage, kopf.AnnotationsDiffBaseStorage)
    assert not settings.posting.enabled


def test_kopfs_per_canary_workers_do_not_idle_for_seconds() -> None:
    """Each keeps its Canary's last event while it idles: at 5,000 Canaries, kopf's default
    of 5 s kept thousands at once (BENCHMARKS.md, the replicas' memory)."""
    assert kopf_settings().queueing.idle_timeout <= 1.0


def test_every_handler_runs_on_the_event_loop_not_in_kopfs_thread_pool() -> None:
    """kopf runs a plain function in a thread: a hand-off per event (a status write makes
    one for every progressing tick), and `notice` wakes a daemon's asyncio.Event, which
    only the loop's thread may set."""
    import inspect

    registry = build_registry(None, (CANARIES, FLAGGER_CANARIES), _login)  # type: ignore[arg-type]

    handlers = [
        *registry._watching.get_all_handlers(),
        *registry._changing.get_all_handlers(),
        *registry._spawning.get_all_handlers(),
    ]
    assert handlers
    assert all(inspect.iscoroutinefunction(h.fn) for h in handlers), [h.id for h in handlers]
