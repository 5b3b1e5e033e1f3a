"""The collector's fence, on a clock the test moves: when a check's window may begin after
the replicas of an earlier revision behind a cluster were drained (no Envoy needed; the
real-Envoy case is in test_collector)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import cast

from coalmine.engine import MeasurementKind
from coalmine.local.envoy import StatsCollector
from coalmine.local.envoy.admin import EnvoyAdmin

WALL = datetime(2026, 12, 2, 12, 0, 0, tzinfo=UTC)
CLUSTER = "shop_web-canary"


class Answers:
    """An admin API whose cluster answered one more request at each scrape."""

    def __init__(self) -> None:
        self.served = 0

    async def prometheus(self, name_regex: str) -> str:
        self.served += 1
        return (
            "# TYPE envoy_cluster_upstream_rq_xx counter\n"
            f'envoy_cluster_upstream_rq_xx{{envoy_response_code_class="2",'
            f'envoy_cluster_name="{CLUSTER}"}} {self.served}\n'
        )


class Scraped:
    """A collector on a clock the test moves, scraped by hand once a second."""

    def __init__(self, drained: float | None) -> None:
        self.now = 100.0
        self.drained = drained
        self.collector = StatsCollector(
            lambda: cast(EnvoyAdmin, Answers()),
            clock=lambda: self.now,
            wall_clock=lambda: WALL,
            drained=lambda cluster: self.drained if cluster == CLUSTER else None,
            flush_s=1.0,
        )

    async def until(self, end: float) -> None:
        while self.now < end:
            await self.collector.scrape()
            self.now += 1.0

    def check(self, window_s: float, cluster: str = CLUSTER) -> str | None:
        """The reason a check of `cluster` over `window_s` waits; None when it does not."""
        measured = self.collector.window(cluster, window_s, wait_for_data=True).requests
        return measured.reason if measured.kind == MeasurementKind.WAITING else None


async def test_a_window_waits_while_an_earlier_revisions_replica_still_runs() -> None:
    scraped = Scraped(drained=math.inf)
    await scraped.until(120.0)
    reason = scraped.check(5.0)
    assert reason is not None
    assert reason.endswith(
        f"(the replicas of an earlier revision behind cluster {CLUSTER} were still serving"
        " requests then)"
    )
    assert scraped.check(5.0, "shop_other") is None  # other clusters are not held
    assert scraped.collector.fenced(CLUSTER, 5.0) is not None


async def test_a_window_begins_a_flush_and_a_scrape_after_the_drain() -> None:
    scraped = Scraped(drained=110.5)
    await scraped.until(112.0)  # samples at 100..111: none yet at 110.5 + 1 + 1
    reason = scraped.check(3.0)
    assert reason is not None and "did not hold their last answers yet" in reason
    await scraped.until(116.0)  # the fence is the sample at 113; now is 116
    reason = scraped.check(4.0)  # would begin at 112
    assert reason is not None
    assert reason.endswith(
        f"(the first Envoy stats after the replicas of an earlier revision behind cluster"
        f" {CLUSTER} were drained)"
    )
    assert scraped.check(3.0) is None  # begins at 113, the fence itself
    assert scraped.collector.fenced(CLUSTER, 3.0) is None


async def test_a_drain_older_than_every_sample_holds_nothing() -> None:
    scraped = Scraped(drained=50.0)
    await scraped.until(105.0)
    assert scraped.check(3.0) is None
    assert scraped.collector.fenced(CLUSTER, 3.0) is None
