"""A LoadResult as the few lines a person reads after a run, and as the live one-liner."""

from __future__ import annotations

from collections.abc import Mapping

from coalmine.load.result import LoadResult

__all__ = ["progress_line", "summary_lines"]


def summary_lines(result: LoadResult) -> list[str]:
    """Sent and achieved rate, answers by status, failures by kind, latency percentiles."""
    lines = [
        f"sent     {result.sent} requests in {result.sending_seconds:.1f}s: "
        f"{result.rate:.1f}/s of {result.target_rate:g}/s asked"
        + (" (stopped early)" if result.stopped_early else ""),
        "status   " + (_counts(result.statuses) or "no answers"),
        "errors   " + (_counts(result.errors) or "none"),
    ]
    if result.dropped or result.abandoned:
        lines.append(
            f"not sent {result.dropped} (in-flight cap reached); "
            f"abandoned {result.abandoned} (still out at the stop)"
        )
    latency = result.latency
    if latency is not None:
        lines.append(
            f"latency  p50 {_ms(latency.p50)}  p90 {_ms(latency.p90)}  p99 {_ms(latency.p99)}  "
            f"max {_ms(latency.max)}  ({result.answered} answers)"
        )
    return lines


def progress_line(result: LoadResult, duration: float) -> str:
    """One line for a terminal while the load runs (the rate once a second has passed)."""
    classes = "  ".join(f"{name} {n}" for name, n in result.status_classes().items())
    rate = f"{result.rate:.1f}/s" if result.sending_seconds >= 1 else "-/s"
    return (
        f"{result.sending_seconds:5.1f}s/{duration:g}s  sent {result.sent} ({rate})"
        f"  in flight {result.in_flight}  {classes or 'no answers yet'}"
        f"  errors {result.failed}  dropped {result.dropped}"
    )


def _counts(counts: Mapping[int, int] | Mapping[str, int]) -> str:
    return "  ".join(f"{key}: {n}" for key, n in sorted(counts.items()))


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"
