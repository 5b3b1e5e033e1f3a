"""Which Canary events kopf processes: not the ordinary changes of another replica's Canaries.

With shards, every replica's kopf watches every Canary: a takeover must know every
Canary (`CanaryDaemons.leadership_gained`), and kopf filters only after it has processed
an event. That processing (kopf's memory of the object, its diff base, the causes, a
worker task per Canary, the handlers) was the largest part of a replica's CPU at 5,000
Canaries on three replicas (22 to 26 % by py-spy, BENCHMARKS.md), and two thirds of those
events are the status writes of Canaries whose shard another replica holds: they change
nothing here (`CanaryDaemons.noticed` knows the Canary already, and its loop runs
elsewhere).

So such an event is dropped between kopf's watch and its processing: a MODIFIED event
of a Canary

- that this replica has seen (`known`: its listing or ADDED event went through),
- that is another replica's (`elsewhere`: its shard held there, or being given up here),
- that carries coalmine's finalizer (an event without it goes through: kopf adds it), and
- that is not being deleted (every replica's kopf runs the deletion handler, which waits
  for the Canary's owner: `RetryLaterNotLeader`).

Everything else goes through: listings, ADDED, DELETED, kopf's bookmarks, and every event
on a replica without shards (nothing is `elsewhere` there).

kopf has no hook between its watch and its processing. `filtering` wraps kopf's watch
generator (`kopf._cogs.clients.watching.infinite_watch`, which kopf's queueing looks up
on that module each time it opens a watch), once per process; an operator's filter is
found by its settings object (`kube.runtime.handlers.kopf_settings` makes one per run),
so operators in one process keep theirs apart and one without a filter sees every event.
tests/kube/runtime/test_kopf_events.py pins the kopf details this rests on.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

__all__ = ["filtering", "ordinary_changes_elsewhere"]

Passes = Callable[[Any], bool]
"""Whether kopf gets a raw watch event (a dict, or one of kopf's bookmarks)."""

_filters: dict[int, Passes] = {}
"""By `id` of a running operator's settings (kopf's settings are not hashable)."""


def ordinary_changes_elsewhere(
    known: Callable[[str], bool], elsewhere: Callable[[str], bool], finalizer: str
) -> Passes:
    """The filter described above: False for the events kopf need not see."""

    def passes(event: Any) -> bool:
        if not isinstance(event, dict) or event.get("type") != "MODIFIED":
            return True
        obj = event.get("object")
        meta = obj.get("metadata") if isinstance(obj, dict) else None
        if not isinstance(meta, dict):
            return True  # not a Canary's shape: kopf's to judge
        uid = str(meta.get("uid") or "")
        ordinary = finalizer in (meta.get("finalizers") or ()) and not meta.get("deletionTimestamp")
        return not (ordinary and known(uid) and elsewhere(uid))

    return passes


@contextlib.contextmanager
def filtering(settings: Any, passes: Passes) -> Iterator[None]:
    """While inside, the kopf operator run with `settings` gets only the events `passes`."""
    _install()
    _filters[id(settings)] = passes
    try:
        yield
    finally:
        _filters.pop(id(settings), None)


def _install() -> None:
    from kopf._cogs.clients import watching

    original = watching.infinite_watch
    if getattr(original, "coalmine_filtered", False):
        return

    async def infinite_watch(*, settings: Any, **options: Any) -> AsyncIterator[Any]:
        stream: Any = original(settings=settings, **options)  # (an async generator)
        async with contextlib.aclosing(stream) as events:
            async for event in events:
                passes = _filters.get(id(settings))
                if passes is None or passes(event):
                    yield event

    infinite_watch.coalmine_filtered = True  # type: ignore[attr-defined]
    watching.infinite_watch = infinite_watch
