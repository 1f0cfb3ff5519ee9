"""A gate nearing its bound: while it passes, its interval's worse end has used `SHARE` of the
room between no change and the bound; while it holds (inconclusive), its estimate has — a wide
interval alone, for want of data, is not news. People are told once per stage (audited as
`gate_approaching`, and so notified), before the controller has to act.

Where no change sits on the tested scale: 0 for a difference and for an absolute maximum, 1 for a
ratio of quantiles or costs, 1 (everything good) for an absolute minimum of a rate. A ratio bound
on a rate is tested as p_c - r·p_b (rollout/control/gates.py), whose no-change point depends on
the baseline: it is left out rather than guessed.
"""

from __future__ import annotations

from rollout.config.gates import Bound
from rollout.config.metrics import METRICS
from rollout.control.gates import GateResult

SHARE = 0.8


def approaching(result: GateResult, bound: Bound) -> bool:
    if result.verdict not in ("pass", "inconclusive") or result.interval is None:
        return False
    info = METRICS[result.metric]
    if bound.kind == "max_ratio_to_baseline" and info.kind == "proportion":
        return False
    interval, passing = result.interval, result.verdict == "pass"
    if bound.kind == "min":
        if info.kind != "proportion":
            return False
        worst = interval.low if passing else interval.value
        return worst <= bound.limit + (1.0 - SHARE) * (1.0 - bound.limit)
    neutral = 1.0 if bound.kind == "max_ratio_to_baseline" else 0.0
    worst = interval.high if passing else interval.value
    return worst >= neutral + SHARE * (bound.limit - neutral)


def approach_entry(
    rollout: str, version: str, result: GateResult, bound: Bound, where: dict[str, object]
) -> dict[str, object]:
    interval = result.interval
    assert interval is not None
    return {
        "action": "gate_approaching",
        "actor": "controller",
        "rollout": rollout,
        "version": version,
        "reason": (
            f"{result.gate} ({bound.describe()}) nears its bound: {result.tested}"
            f" {interval.value:.4g} [{interval.low:.4g}, {interval.high:.4g}]"
        ),
        "gate": result.gate,
        "before": where,
        "after": where,
    }
