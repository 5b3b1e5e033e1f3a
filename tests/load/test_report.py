"""The text a person reads after a run and while it runs."""

from coalmine.load import LoadResult, progress_line, summary_lines


def finished(**fields: object) -> LoadResult:
    defaults: dict[str, object] = {
        "target_rate": 50.0,
        "sending_seconds": 10.0,
        "elapsed_seconds": 10.2,
        "sent": 500,
        "dropped": 0,
        "abandoned": 0,
        "in_flight": 0,
        "statuses": {200: 398, 500: 100},
        "errors": {"timeout": 2},
        "latencies": tuple(i / 1000 for i in range(1, 499)),
        "stopped_early": False,
    }
    return LoadResult(**{**defaults, **fields})  # type: ignore[arg-type]


def test_the_summary_has_rate_statuses_errors_and_percentiles() -> None:
    assert summary_lines(finished()) == [
        "sent     500 requests in 10.0s: 50.0/s of 50/s asked",
        "status   200: 398  500: 100",
        "errors   timeout: 2",
        "latency  p50 249.0 ms  p90 449.0 ms  p99 494.0 ms  max 498.0 ms  (498 answers)",
    ]


def test_the_summary_says_what_was_not_sent_or_answered() -> None:
    lines = summary_lines(
        finished(
            statuses={},
            errors={"connection_refused": 480},
            latencies=(),
            dropped=15,
            abandoned=5,
            stopped_early=True,
        )
    )
    assert lines == [
        "sent     500 requests in 10.0s: 50.0/s of 50/s asked (stopped early)",
        "status   no answers",
        "errors   connection_refused: 480",
        "not sent 15 (in-flight cap reached); abandoned 5 (still out at the stop)",
    ]


def test_the_live_line_shows_progress_by_class() -> None:
    line = progress_line(finished(in_flight=3, sending_seconds=4.0, sent=200), duration=10)
    assert line == (
        "  4.0s/10s  sent 200 (50.0/s)  in flight 3  2xx 398  5xx 100  errors 2  dropped 0"
    )
    early = progress_line(finished(statuses={}, sending_seconds=0.01, sent=1), duration=10)
    assert early == "  0.0s/10s  sent 1 (-/s)  in flight 0  no answers yet  errors 2  dropped 0"
