"""What the controller judges: per arm and role, the counts and latency histograms of one window,
read from metric-window fields (see rollout/control/windows.py) merged across replicas and buckets.

Cancelled calls (error kind "client_cancelled": the client left) say nothing about the arm, so
they are taken out of `requests` as windows.py already keeps them out of `errors`.

Cost needs a spread as well as a mean, and the windows keep only sums; the per-bucket
(priced, cost_usd) pairs give one (each time bucket is a batch: see gate_stats.ratio_interval).
`window_snapshot(buckets)` keeps them; `arm_snapshot(merged)` alone has none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from rollout.control.windows import merge_fields
from rollout.stats.histogram import LogHistogram

CANCELLED = "client_cancelled"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One arm and role over one window. `cost_batches`: (priced, cost_usd) per time bucket."""

    requests: int = 0
    errors: int = 0
    refusals: int = 0
    json_checks: int = 0
    json_invalid: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    priced: int = 0
    unpriced: int = 0
    duration: LogHistogram = field(default_factory=LogHistogram)
    ttft: LogHistogram = field(default_factory=LogHistogram)
    errors_by_kind: Mapping[str, int] = field(default_factory=dict)
    cost_batches: tuple[tuple[int, float], ...] = ()
    # Shadow pairs compared, and those that disagreed, per comparator (rollout/quality/compare.py).
    pairs: Mapping[str, int] = field(default_factory=dict)
    disagree: Mapping[str, int] = field(default_factory=dict)
    # Answers scored online per scorer, and the sum of their values (1/0 pass/fail, else the
    # score): the `score_<scorer>` gates' "score_sum:<scorer>/score_count:<scorer>".
    score_sum: Mapping[str, float] = field(default_factory=dict)
    score_count: Mapping[str, int] = field(default_factory=dict)

    @property
    def json_valid(self) -> int:
        return self.json_checks - self.json_invalid

    def count(self, name: str) -> int:
        """A count by name (the `source` of a proportion metric in rollout.config.metrics):
        a field, or "pairs:<comparator>" / "disagree:<comparator>", "score_count:<scorer>" /
        "score_sum:<scorer>" (a sum of values in [0, 1], not always whole: Wilson's interval
        on it is conservative, as a score's variance is at most p(1 - p))."""
        tally, _, comparator = name.partition(":")
        if comparator:
            return getattr(self, tally).get(comparator, 0)
        value = getattr(self, name)
        assert isinstance(value, int)
        return value


@dataclass(frozen=True, slots=True)
class WindowSnapshot:
    """The arms a decision compares. `shadow`: the candidate's mirrored calls and its pairs;
    `noise`: the second baseline calls on the mirror path and their pairs with the live answer
    (`noise_snapshot`). `subjects`: distinct
    candidate subjects since the stage began, counted apart from the windows
    (rollout/control/subject_counts.py); None when not counted (the stage asks for none).
    `evidence`: the recorded eval of the candidate's version (rollout/control/eval_evidence.py),
    read apart from the windows too, only while a rollout whose plan requires one is pending;
    None otherwise or when none is recorded. It is an input of the look, like the windows, not
    state: it is never written back, and a new record is seen at the next look."""

    baseline: Snapshot = field(default_factory=Snapshot)
    candidate: Snapshot = field(default_factory=Snapshot)
    shadow: Snapshot = field(default_factory=Snapshot)
    noise: Snapshot = field(default_factory=Snapshot)
    subjects: int | None = None
    evidence: Mapping[str, Any] | None = None


def _int(fields: Mapping[str, float], key: str) -> int:
    return round(float(fields.get(key, 0.0)))


def arm_snapshot(
    fields: Mapping[str, float],
    arm: str,
    role: str,
    cost_batches: tuple[tuple[int, float], ...] = (),
) -> Snapshot:
    """The snapshot of "{arm}:{role}" from merged fields; other prefixes are ignored."""
    prefix = f"{arm}:{role}:"
    by_kind = _by_name(fields, prefix + "errors:")
    cancelled = by_kind.get(CANCELLED, 0)
    return Snapshot(
        requests=max(_int(fields, prefix + "requests") - cancelled, 0),
        errors=_int(fields, prefix + "errors"),
        refusals=_int(fields, prefix + "refusals"),
        json_checks=_int(fields, prefix + "json_checks"),
        json_invalid=_int(fields, prefix + "json_invalid"),
        input_tokens=_int(fields, prefix + "input_tokens"),
        output_tokens=_int(fields, prefix + "output_tokens"),
        cost_usd=float(fields.get(prefix + "cost_usd", 0.0)),
        priced=_int(fields, prefix + "priced"),
        unpriced=_int(fields, prefix + "unpriced"),
        duration=LogHistogram.from_fields(prefix + "duration", fields),
        ttft=LogHistogram.from_fields(prefix + "ttft", fields),
        errors_by_kind=by_kind,
        cost_batches=cost_batches,
        pairs=_by_name(fields, prefix + "pairs:"),
        disagree=_by_name(fields, prefix + "disagree:"),
        score_sum=_sums_by_name(fields, prefix + "score_sum:"),
        score_count=_by_name(fields, prefix + "score_count:"),
    )


def _by_name(fields: Mapping[str, float], head: str) -> dict[str, int]:
    """The counts under "<head><name>", by name."""
    return {key[len(head) :]: _int(fields, key) for key in fields if key.startswith(head)}


def _sums_by_name(fields: Mapping[str, float], head: str) -> dict[str, float]:
    return {key[len(head) :]: float(fields[key]) for key in fields if key.startswith(head)}


def _cost_batches(buckets: Sequence[Mapping[str, float]], arm: str, role: str) -> tuple:
    prefix = f"{arm}:{role}:"
    pairs = ((_int(b, prefix + "priced"), float(b.get(prefix + "cost_usd", 0.0))) for b in buckets)
    return tuple((n, cost) for n, cost in pairs if n > 0)  # an empty bucket is no batch


def window_snapshot(
    buckets: Sequence[Mapping[str, float]], subjects: int | None = None
) -> WindowSnapshot:
    """The arms over a window given as its time buckets' fields (each already summed across
    replicas, as the store returns them)."""
    merged = merge_fields([dict(b) for b in buckets])

    def snap(arm: str, role: str) -> Snapshot:
        return arm_snapshot(merged, arm, role, _cost_batches(buckets, arm, role))

    return WindowSnapshot(
        baseline=snap("baseline", "live"),
        candidate=snap("candidate", "live"),
        shadow=snap("candidate", "shadow"),
        noise=noise_snapshot(snap("baseline", "shadow"), snap("baseline", "noise")),
        subjects=subjects,
    )


def noise_snapshot(calls: Snapshot, pairs: Snapshot) -> Snapshot:
    """The noise arm: the second baseline calls' outcomes, recorded as "baseline:shadow" (the
    call is a shadow exchange of the baseline arm), with the noise pairs' counts, recorded as
    "baseline:noise". The shadow phase judges the candidate's mirrored calls against these."""
    return replace(calls, pairs=pairs.pairs, disagree=pairs.disagree)
