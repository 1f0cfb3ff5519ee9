"""With `--repeat 2` or more: how often the arms disagree on a case's outcome, beside how often
the baseline disagrees with itself on the same case (Diffy's noise, as shadow traffic measures
it live). A candidate that differs from the baseline no more than the baseline differs from
itself has shown no change the model's own sampling would not make."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from rollout.eval.result import Call
from rollout.stats.gate_stats import wilson


def outcome(call: Call) -> tuple[bool, bool | None]:
    """What a case's answer amounts to: answered at all, and its expectations held."""
    return call.answer.error is None, call.passed


def disagreement(calls: Iterable[Call], confidence: float) -> dict[str, Any]:
    first: dict[str, dict[tuple[str, int], tuple[bool, bool | None]]] = defaultdict(dict)
    for call in calls:
        if call.repeat < 2:
            first[call.case][(call.arm, call.repeat)] = outcome(call)
    between = [o[("baseline", 0)] != o[("candidate", 0)] for o in first.values() if _has(o, 0, 0)]
    self_ = [o[("baseline", 0)] != o[("baseline", 1)] for o in first.values() if _has(o, 0, 1)]
    return {
        "between_arms": _rate(between, confidence),
        "baseline_self": _rate(self_, confidence) if self_ else None,
    }


def _has(outcomes: dict[tuple[str, int], object], cand_repeat: int, base_repeat: int) -> bool:
    other = ("candidate", cand_repeat) if base_repeat == 0 else ("baseline", base_repeat)
    return ("baseline", 0) in outcomes and other in outcomes


def _rate(flags: list[bool], confidence: float) -> dict[str, Any] | None:
    if not flags:
        return None
    hits = sum(flags)
    interval = wilson(hits, len(flags), confidence)
    return {
        "cases": len(flags),
        "disagree": hits,
        "rate": hits / len(flags),
        "interval": [interval.low, interval.high],
    }
