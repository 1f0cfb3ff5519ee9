"""What counting distinct candidate subjects adds per request, and what a flush costs: a quick
CPU micro-benchmark, no servers.

    python bench/subject_cost.py                # ~10 s
    python bench/subject_cost.py --calls 200000 --subjects 5000

Times what Record (the proxy's last stage) runs more for a finished candidate call when subjects
are counted, the aggregator's add alone, and the flusher's keyed hash per distinct subject, in
several rounds (medians). Timing the whole of Record with and without subjects was tried: the
difference is far below the jitter of a shared machine. Prints µs per call; never fails.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiohttp.test_utils import make_mocked_request

from proxy.exchange import Exchange
from proxy.metrics import ArmMetricsCache
from proxy.observe.base import Observation
from proxy.stages.record import Record
from rollout.control.subject_counts import SubjectAggregator, hash_subjects
from rollout.control.windows import WindowAggregator
from rollout.quality.usage import Usage


def exchanges(n: int) -> list[Exchange]:
    """`n` finished candidate calls of rollout r, subject `user-<i>@example.com` each."""
    out = []
    for i in range(n):
        ex = Exchange(request=make_mocked_request("POST", "/v1/chat/completions"), candidates=[])
        ex.upstream = SimpleNamespace(name="up")  # type: ignore[assignment]
        ex.rollout, ex.arm, ex.model, ex.status = "r", "candidate", "gpt-4o-mini", 200
        ex.subject = f"user-{i}@example.com"
        ex.finished_at = ex.started + 0.2
        ex.observation = Observation(usage=Usage(input_tokens=3, output_tokens=7))
        out.append(ex)
    return out


def per_call(work: Callable[[], None], calls: int) -> float:
    start = time.perf_counter()
    work()
    return (time.perf_counter() - start) / calls * 1e6


def main(args: argparse.Namespace) -> None:
    pool = exchanges(args.subjects)
    repeat = max(1, args.calls // len(pool))
    calls = repeat * len(pool)
    record = Record(ArmMetricsCache(), WindowAggregator(), SubjectAggregator())
    subjects = [ex.subject or "" for ex in pool]
    agg, key, now = SubjectAggregator(), b"k" * 32, time.time()

    def in_record() -> None:  # what Record runs more for a candidate call
        for _ in range(repeat):
            for ex in pool:
                record._count_subject(ex, None, now)

    def add_alone() -> None:
        for _ in range(repeat):
            for subject in subjects:
                agg.add("r", subject, now)

    def hashing() -> None:
        for _ in range(repeat):
            hash_subjects(key, subjects)

    rounds = {"in Record": [], "SubjectAggregator.add": [], "flush hash": []}
    for _ in range(args.rounds):
        rounds["in Record"].append(per_call(in_record, calls))
        rounds["SubjectAggregator.add"].append(per_call(add_alone, calls))
        rounds["flush hash"].append(per_call(hashing, calls))
        record.subjects.drain()  # type: ignore[union-attr]
        agg.drain()
    med = {name: statistics.median(times) for name, times in rounds.items()}
    print(f"{args.rounds} rounds x {calls} calls, {len(pool)} distinct subjects (medians)")
    print(f"added to Record per candidate call: {med['in Record']:.3f} µs")
    print(f"  of which SubjectAggregator.add:   {med['SubjectAggregator.add']:.3f} µs")
    print(f"flush, keyed hash per distinct subject and bucket: {med['flush hash']:.3f} µs")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=30_000, help="calls per round and path")
    parser.add_argument("--subjects", type=int, default=1000, help="distinct subjects")
    parser.add_argument("--rounds", type=int, default=7)
    main(parser.parse_args())
