"""What a gate that does not pass yet still needs, projected at the current rates; and whether it
can get data at all. Pure functions over one gate's result and the snapshot it was judged on.

- no_data: the candidate requests that bring the short side to `min_sample` (at the arms' current
  split and samples per request: json_validity counts only JSON-mode calls, cost only priced ones).
- inconclusive: an interval narrows about as 1/sqrt(n), so it clears the bound when its half-width
  h on the side of the bound has shrunk to the margin m between the estimate and the bound:
  n_more = n·((h/m)² - 1). The side is the one the estimate leans to: towards pass (the promote
  interval's far end) when the estimate is within the bound, towards fail (the rollback interval's
  near end) when beyond it. An estimate on the bound, or one that needs more than
  NEVER_FACTOR times the samples seen, "may never decide": more data narrows the interval around
  a value the bound cuts through.
- minutes: the candidate's request rate over the window (requests / seconds since the stage
  began) turns requests into time.
- unobservable: a metric with no sample at all while the candidate served UNOBSERVABLE_REQUESTS
  requests over UNOBSERVABLE_SECONDS (no JSON-mode request, an unpriced model, no stream). A flag
  beside the verdict, not a verdict: the gate stays no_data and the ramp holds, but people are
  told it will wait forever as things are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rollout.config.gates import Bound
from rollout.config.metrics import METRICS
from rollout.control.gates import GateResult, sample_size, tested_limit
from rollout.control.snapshot import Snapshot
from rollout.stats.gate_stats import MIN_BATCHES, Interval

NEVER_FACTOR = 100.0  # more than 100 times the samples seen: say "may never decide"
UNOBSERVABLE_REQUESTS = 100
UNOBSERVABLE_SECONDS = 600.0

# What a metric with no sample lacks, said to the person reading the hold.
_WHY_NONE = {
    "json_validity": "no candidate request asked for JSON output (response_format)",
    "cost_per_1k": "no candidate call was priced: add the model under observe.prices",
    "ttft_p95": "no candidate request was streamed",
}


@dataclass(frozen=True, slots=True)
class GateNeed:
    """`requests`: more candidate requests needed to decide (None: cannot be projected);
    `minutes`: the same at the observed rate (None without a rate); `note`: what the numbers
    cannot say ("to pass", "may never decide: ...", "cannot project: ..."), or ""."""

    note: str
    requests: int | None = None
    minutes: float | None = None


def gate_need(
    result: GateResult,
    bound: Bound,
    min_sample: int,
    base: Snapshot,
    cand: Snapshot,
    elapsed: float,
) -> GateNeed | None:
    """What `result` still needs, or None when it has decided (pass or fail)."""
    if result.verdict == "no_data":
        need = _to_min_sample(result, bound, min_sample, base, cand)
    elif result.verdict == "inconclusive":
        need = _to_decide(result, tested_limit(result.metric, bound), bound.kind != "min", cand)
    else:
        return None
    return _with_minutes(need, cand.requests, elapsed)


def unobservable(
    metric: str, relative: bool, base: Snapshot, cand: Snapshot, elapsed: float
) -> str | None:
    """Why the gate cannot get data as traffic stands, or None."""
    if elapsed < UNOBSERVABLE_SECONDS:
        return None
    arms = [("candidate", cand)] + ([("baseline", base)] if relative else [])
    for arm, snap in arms:
        if snap.requests >= UNOBSERVABLE_REQUESTS and sample_size(metric, snap) == 0:
            why = _WHY_NONE.get(metric, f"no {metric} sample")
            if arm == "baseline":
                why = why.replace("candidate", "baseline")
            return f"0 samples in {snap.requests} {arm} requests over {elapsed / 60:.0f} min: {why}"
    return None


def _per_request(samples: int, requests: int) -> float | None:
    """Samples per request; 1 before any request (most metrics take one per request)."""
    if requests <= 0:
        return 1.0
    return samples / requests if samples > 0 else None


def _to_min_sample(
    result: GateResult, bound: Bound, min_sample: int, base: Snapshot, cand: Snapshot
) -> GateNeed:
    short = [(result.samples[0], cand.requests, 1.0)]
    if bound.kind.endswith("_to_baseline"):
        # The baseline's samples grow with the candidate's requests at the arms' split.
        split = base.requests / cand.requests if cand.requests else None
        short.append((result.samples[1], base.requests, split))
    needed = 0
    for have, requests, split in short:
        if have >= min_sample:
            continue
        rate = _per_request(have, requests)
        if rate is None or split is None or split == 0:
            return GateNeed("cannot project: no sample yet")
        needed = max(needed, math.ceil((min_sample - have) / (rate * split)))
    if needed == 0:  # enough samples: the cost spread (time buckets) or a zero cost is short
        if METRICS[result.metric].kind == "cost":
            return GateNeed(f"needs {MIN_BATCHES} time buckets with priced calls on each side")
        return GateNeed("")
    return GateNeed("", needed)


def _to_decide(result: GateResult, limit: float, bad_above: bool, cand: Snapshot) -> GateNeed:
    promote, rollback = result.interval, result.rollback_interval
    n = result.samples[0]
    if promote is None or rollback is None or n <= 0:
        return GateNeed("cannot project: no interval yet")
    half, margin = _half_and_margin(promote, rollback, limit, bad_above)
    if not math.isfinite(half) or not math.isfinite(margin):
        return GateNeed("cannot project: the interval is still unbounded")
    if margin <= 0 or (half / margin) ** 2 > NEVER_FACTOR:
        return GateNeed("may never decide: the estimate sits on the bound")
    # (less a hair, so that float noise in a ratio of 2 does not ask for one more request)
    more_samples = max(1, math.ceil(n * ((half / margin) ** 2 - 1) - 1e-6))
    rate = _per_request(n, cand.requests) or 1.0
    toward = "pass" if _within(promote.value, limit, bad_above) else "fail"
    return GateNeed(f"to {toward}", math.ceil(more_samples / rate))


def _within(value: float, limit: float, bad_above: bool) -> bool:
    return value < limit if bad_above else value > limit


def _half_and_margin(
    promote: Interval, rollback: Interval, limit: float, bad_above: bool
) -> tuple[float, float]:
    """The interval's half-width on the bound's side, and the estimate's distance to it."""
    v = promote.value
    if v == limit:
        return 1.0, 0.0
    if _within(v, limit, bad_above):  # towards pass: the promote interval's far end must clear
        half = promote.high - v if bad_above else v - promote.low
    else:  # towards fail: the rollback interval's near end must clear
        half = v - rollback.low if bad_above else rollback.high - v
    return half, abs(v - limit)


def _with_minutes(need: GateNeed, requests: int, elapsed: float) -> GateNeed:
    if need.requests is None or requests <= 0 or elapsed <= 0:
        return need
    per_minute = requests / elapsed * 60.0
    return GateNeed(need.note, need.requests, need.requests / per_minute)
