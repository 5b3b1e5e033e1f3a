"""Fuzzing the manifest entry points at scale: crashes, hangs, peak memory.

1. `--cases` cases (default 10,000) from `coalmine.testing.fuzzing` (every manifest under
   examples/ mutated, and the hostile shapes of issue 11) go through what `coalmine
   validate` and `coalmine validate --local` run: `load_text` for coalmine's kinds and for
   the local kinds, then the metric query checks.
2. `--api-cases` of them (default all 10,000) are posted to a real `coalmine up` runtime (Envoy
   included) as /v1/apply or /v1/delete (Deployments renamed, so that no fuzzed replica
   count starts processes).

It prints, for each part: cases, crashes (an exception escaping, or HTTP 500), hangs
(a case over 2 s), the slowest case, and the peak resident memory of this process.
Target: 0 crashes, 0 hangs, peak memory under 300 MB.

Run: .venv/bin/python -m benchmarks.fuzz [--cases 10000] [--api-cases 10000] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import signal
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import FrameType

from coalmine.api.loading import CUSTOM_RESOURCES, LOCAL_RESOURCES, load_text
from coalmine.local.runtime import LocalRuntime, RuntimeSettings
from coalmine.metrics.validation import check_metric_queries
from coalmine.testing.fuzzing import example_corpus, fuzz_case

EXAMPLES = Path(__file__).parents[1] / "examples"
HANG_SECONDS = 2.0
WATCHDOG_SECONDS = 30


@dataclass
class Tally:
    cases: int = 0
    crashes: list[str] = field(default_factory=list)
    hangs: list[str] = field(default_factory=list)
    slowest: tuple[float, str] = (0.0, "")
    kinds: Counter[str] = field(default_factory=Counter)
    answers: Counter[int] = field(default_factory=Counter)

    def timed(self, seconds: float, name: str) -> None:
        self.cases += 1
        self.kinds[name] += 1
        if seconds > HANG_SECONDS:
            self.hangs.append(f"{name} ({seconds:.1f}s)")
        if seconds > self.slowest[0]:
            self.slowest = (seconds, name)

    def report(self, title: str) -> None:
        print(f"{title}")
        print(f"  cases:          {self.cases}")
        print(f"  crashes:        {len(self.crashes)}")
        for crash in self.crashes[:10]:
            print(f"    {crash}")
        print(f"  hangs (> {HANG_SECONDS:g} s): {len(self.hangs)} {self.hangs[:10]}")
        print(f"  slowest case:   {self.slowest[0] * 1000:.0f} ms ({self.slowest[1]})")
        if self.answers:
            print(f"  HTTP answers:   {dict(sorted(self.answers.items()))}")
        print(f"  peak memory:    {peak_mb():.0f} MB (this process, max RSS so far)")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Hang(Exception):
    pass


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise Hang


def validate_cases(cases: list[tuple[str, str]]) -> Tally:
    tally = Tally()
    signal.signal(signal.SIGALRM, _alarm)
    for name, text in cases:
        started = time.perf_counter()
        signal.alarm(WATCHDOG_SECONDS)
        try:
            for kinds in (CUSTOM_RESOURCES, LOCAL_RESOURCES):
                loaded = load_text(text, kinds=kinds, skip_other_kinds=kinds is CUSTOM_RESOURCES)
                check_metric_queries(loaded.resources)
        except Hang:
            tally.crashes.append(f"{name}: still running after {WATCHDOG_SECONDS} s")
        except Exception as error:
            tally.crashes.append(f"{name}: {type(error).__name__}: {error}"[:300])
        finally:
            signal.alarm(0)
        tally.timed(time.perf_counter() - started, name)
    return tally


def api_cases(cases: list[tuple[str, str]], rng: random.Random) -> Tally:
    tally = Tally()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def run(coroutine: object) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, loop).result(120)  # type: ignore[arg-type]

    with tempfile.TemporaryDirectory() as state:
        settings = RuntimeSettings(state_dir=Path(state), gateway_port=0, min_interval=timedelta(0))
        runtime = LocalRuntime(settings)
        run(runtime.start())
        try:
            assert runtime.api is not None
            for name, text in cases:
                text = text.replace("kind: Deployment", "kind: Deploymentx")
                path = "/v1/delete" if rng.random() < 0.2 else "/v1/apply"
                body = json.dumps({"text": text, "source": name}).encode("utf-8", "surrogatepass")
                started = time.perf_counter()
                status = _post(runtime.api.url + path, runtime.api.token, body)
                tally.answers[status] += 1
                if status >= 500:
                    tally.crashes.append(f"{name}: HTTP {status}")
                tally.timed(time.perf_counter() - started, name)
        finally:
            run(runtime.stop())
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
    return tally


def _post(url: str, token: str, body: bytes) -> int:
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (urllib.error.URLError, TimeoutError) as error:
        print(f"no answer: {error}", file=sys.stderr)
        return 599


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--api-cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    arguments = parser.parse_args()
    rng = random.Random(arguments.seed)
    corpus = example_corpus(EXAMPLES)
    cases = [fuzz_case(rng, corpus) for _ in range(arguments.cases)]
    print(f"{len(corpus)} example files, seed {arguments.seed}")
    started = time.perf_counter()
    validate_cases(cases).report(f"validate path ({time.perf_counter() - started:.0f} s)")
    started = time.perf_counter()
    api = api_cases(cases[: arguments.api_cases], rng)
    api.report(f"local API /v1/apply and /v1/delete ({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
