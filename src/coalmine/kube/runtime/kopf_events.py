"""Which Canary events kopf processes: not the ordinary changes it has nothing to do for.

kopf processes every event of every Canary it watches (its memory of the object, its diff
base, the causes, a worker task per Canary, the handlers), and kopf filters only after
that. At 5,000 Canaries on three replicas, that processing was the largest part of a
replica's CPU (22 to 26 % by py-spy, BENCHMARKS.md), nearly all of it for status writes,
one a tick: two thirds of them of Canaries whose shard another replica holds (every
replica's kopf watches every Canary: a takeover must know them all,
`CanaryDaemons.leadership_gained`), the rest this replica's own, whose loop runs already.
Neither needs anything of kopf's handlers: `CanaryDaemons.noticed` knows the Canary, has
no loop to start, and nothing to wake.

So such an event is dropped between kopf's watch and its processing: a MODIFIED event
of a Canary

- that this replica has seen (`known`: its listing or ADDED event went through),
- that is another replica's (`elsewhere`: its shard held there, or being given up here),
  or this replica's with its loop running and waiting for no edit (`settled`: not an
  invalid spec whose generation this event moves past, which wakes the loop),
- that carries coalmine's finalizer (an event without it goes through: kopf adds it), and
- that is not being deleted (every replica's kopf runs the deletion handler, which waits
  for the Canary's owner: `RetryLaterNotLeader`).

Everything else goes through: listings, ADDED, DELETED, and kopf's bookmarks. A spec
edit of a valid Canary needs kopf neither: the loop reads the Canary from the read
cache at each tick.

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

__all__ = ["filtering", "ordinary_changes"]

Passes = Callable[[Any], bool]
"""Whether kopf gets a raw watch event (a dict, or one of kopf's bookmarks)."""

_filters: dict[int, Passes] = {}
"""By `id` of a running operator's settings (kopf's settings are not hashable)."""


def ordinary_changes(
    *,
    known: Callable[[str], bool],
    elsewhere: Callable[[str], bool],
    settled: Callable[[str, int], bool],
    finalizer: str,
) -> Passes:
    """The filter described above: False for the events kopf need not see. `settled` is
    told the uid and the event's generation."""

    def passes(event: Any) -> bool:
        if not isinstance(event, dict) or event.get("type") != "MODIFIED":
            return True
        obj = event.get("object")
        meta = obj.get("metadata") if isinstance(obj, dict) else None
        if not isinstance(meta, dict):
            return True  # not a Canary's shape: kopf's to judge
        uid = str(meta.get("uid") or "")
        ordinary = finalizer in (meta.get("finalizers") or ()) and not meta.get("deletionTimestamp")
        if not (ordinary and known(uid)):
            return True
        return not (elsewhere(uid) or settled(uid, _generation(meta)))

    return passes


def _generation(meta: dict[str, Any]) -> int:
    generation = meta.get("generation")
    return generation if isinstance(generation, int) else 0


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
