"""The session affinity cookies in the status, through whole canary lives (Flagger's
meaning, `pkg/router/istio.go` SetRoutes): `sessionAffinityCookie` (and the primary's)
while the canary weight is above 0, moved to `previousSessionAffinityCookie` when it
returns to 0; the routers set and expire exactly the cookies the status names."""

from __future__ import annotations

from tests.engine.builders import canary

from coalmine.api import Canary, Phase
from coalmine.routing.virtual_service import virtual_service_spec
from coalmine.testing import Simulation

AFFINITY = {"cookieName": "canary-flagger-cookie", "primaryCookieName": "primary-flagger-cookie"}


def affine(**analysis: object) -> Canary:
    return canary({"sessionAffinity": AFFINITY, **analysis})


async def started(c: Canary) -> Simulation:
    sim = Simulation(c, replicas=2)
    sim.measurer.set("request-success-rate", 100.0)
    await sim.run_until_phase(Phase.INITIALIZED, max_ticks=5)
    return sim


def set_cookies(sim: Simulation) -> list[str]:
    """The Set-Cookie values the router writes now, for the weights it holds now."""
    assert sim.routes is not None
    spec = virtual_service_spec(sim.canary, sim.routes)
    found = []
    for route in spec["http"]:
        for where in [route, *route["route"]]:
            added = ((where.get("headers") or {}).get("response") or {}).get("add") or {}
            if "Set-Cookie" in added:
                found.append(added["Set-Cookie"].split(";")[0])
    return sorted(found)


async def test_the_cookie_is_in_the_status_during_the_analysis_and_previous_after() -> None:
    sim = await started(affine())
    status = sim.canary.status
    assert (status.session_affinity_cookie, status.previous_session_affinity_cookie) == (None, None)
    sim.deploy("0.0.2")
    await sim.run_until(lambda s: s.routes is not None and s.routes.canary > 0, max_ticks=5)
    status = sim.canary.status
    cookie = status.session_affinity_cookie
    primary = status.primary_session_affinity_cookie
    assert cookie is not None and cookie.startswith("canary-flagger-cookie=")
    assert primary is not None and primary.startswith("primary-flagger-cookie=")
    assert set_cookies(sim) == sorted([cookie, primary])  # the router sets the status's

    await sim.tick()  # the weight rises: the same cookies for the whole analysis
    assert sim.routes is not None and sim.routes.canary > 20
    assert sim.canary.status.session_affinity_cookie == cookie
    assert sim.canary.status.primary_session_affinity_cookie == primary

    await sim.run_until_phase(Phase.SUCCEEDED, max_ticks=20)
    status = sim.canary.status
    assert status.session_affinity_cookie is None
    assert status.primary_session_affinity_cookie is None
    assert status.previous_session_affinity_cookie == cookie
    assert set_cookies(sim) == [cookie]  # expired (Max-Age=-1) for its holders


async def test_the_next_revision_gets_a_new_cookie_and_the_old_one_stays_previous() -> None:
    sim = await started(affine())
    sim.deploy("0.0.2")
    await sim.run_until_phase(Phase.SUCCEEDED, max_ticks=20)
    first = sim.canary.status.previous_session_affinity_cookie
    sim.deploy("0.0.3")
    await sim.run_until(lambda s: s.routes is not None and s.routes.canary > 0, max_ticks=5)
    second = sim.canary.status.session_affinity_cookie
    assert second is not None and second != first
    assert sim.canary.status.previous_session_affinity_cookie == first


async def test_a_rollback_moves_the_cookie_to_previous() -> None:
    sim = await started(affine(threshold=1))
    sim.deploy("0.0.2")
    await sim.run_until(lambda s: s.routes is not None and s.routes.canary > 0, max_ticks=5)
    cookie = sim.canary.status.session_affinity_cookie
    sim.measurer.set("request-success-rate", 50.0)
    await sim.run_until_phase(Phase.FAILED, max_ticks=5)
    assert sim.canary.status.session_affinity_cookie is None
    assert sim.canary.status.previous_session_affinity_cookie == cookie
    assert set_cookies(sim) == [cookie]


async def test_a_restart_on_a_new_revision_expires_the_old_revisions_cookie() -> None:
    sim = await started(affine())
    sim.deploy("0.0.2")
    await sim.run_until(lambda s: s.routes is not None and s.routes.canary > 0, max_ticks=5)
    old = sim.canary.status.session_affinity_cookie
    sim.deploy("0.0.3")
    await sim.tick()  # restart: back to the primary, the old cookie expired
    assert sim.routes is not None and sim.routes.canary == 0
    assert sim.canary.status.previous_session_affinity_cookie == old
    assert set_cookies(sim) == [old]
    await sim.run_until(lambda s: s.routes is not None and s.routes.canary > 0, max_ticks=5)
    new = sim.canary.status.session_affinity_cookie
    assert new is not None and new != old


async def test_a_flagger_status_cookie_is_kept_for_the_run() -> None:
    """A Canary taken over from Flagger mid-analysis keeps Flagger's random cookie."""
    sim = await started(affine())
    sim.deploy("0.0.2")
    await sim.run_until(lambda s: s.routes is not None and s.routes.canary > 0, max_ticks=5)
    flaggers = "canary-flagger-cookie=AbCdEfGhIj"
    status = sim.canary.status.model_copy(update={"session_affinity_cookie": flaggers})
    sim.canary = sim.canary.with_status(status)
    await sim.tick()
    assert sim.canary.status.session_affinity_cookie == flaggers
    assert flaggers in set_cookies(sim)


async def test_without_session_affinity_no_cookie_is_written() -> None:
    sim = await started(canary())
    sim.deploy("0.0.2")
    await sim.run_until_phase(Phase.SUCCEEDED, max_ticks=20)
    status = sim.canary.status
    assert (status.session_affinity_cookie, status.previous_session_affinity_cookie) == (None, None)
