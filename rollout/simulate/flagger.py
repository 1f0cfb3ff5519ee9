"""A Flagger-style rule, for comparison with decide() in `rollout simulate`.

Flagger checks each metric once per analysis interval: the candidate's point estimate over that
interval alone against a fixed threshold (`thresholdRange`). A failing check, or a metric with
no values (no candidate traffic in the interval), adds one to the failed-check count; a passing
look lets the weight advance; the canary is rolled back when the count reaches `threshold`. The
count is not reset by passing looks (Flagger resets it only when a new analysis starts).

The thresholds here are the best fixed ones an operator could write: the plan's gate bounds
applied to the baseline's TRUE value (`max_delta_to_baseline` 0.01 on a 1% baseline error rate
becomes "error rate <= 2%"), so the comparison is of the rules, not of guessed numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rollout.config.gates import Bound
from rollout.config.metrics import METRICS
from rollout.config.plan import Plan
from rollout.control.gates import live_gates, point_estimate, sample_size
from rollout.control.snapshot import Snapshot
from rollout.errors import SimulationError
from rollout.simulate.streams import ArmModel


@dataclass(frozen=True, slots=True)
class Threshold:
    metric: str
    limit: float
    bad_above: bool  # False: the limit is a minimum

    def describe(self) -> str:
        return f"{self.metric} {'<=' if self.bad_above else '>='} {self.limit:.4g}"


def true_value(model: ArmModel, metric: str) -> float:
    """The metric's true value for an arm of this model."""
    if metric == "error_rate":
        return model.error_rate
    if metric == "refusal_rate":
        return model.refusal_rate
    if metric == "cost_per_1k":
        return model.cost_per_1k
    info = METRICS[metric]
    if info.kind == "quantile" and info.source == "duration":
        return model.quantile(info.q)
    raise SimulationError(f"the simulation does not model {metric}: leave its gate out of the plan")


def fixed_threshold(metric: str, bound: Bound, baseline: ArmModel) -> Threshold:
    """The bound as a fixed number, from the baseline's true value."""
    if bound.kind in ("max", "min"):
        return Threshold(metric, bound.limit, bound.kind == "max")
    truth = true_value(baseline, metric)
    if bound.kind == "max_ratio_to_baseline":
        return Threshold(metric, truth * bound.limit, True)
    if METRICS[metric].better == "higher":
        return Threshold(metric, truth - bound.limit, False)
    return Threshold(metric, truth + bound.limit, True)


@dataclass(frozen=True, slots=True)
class FlaggerRule:
    thresholds: tuple[Threshold, ...]
    failed_checks: int = 2  # Flagger's `threshold`

    @classmethod
    def from_plan(cls, plan: Plan, baseline: ArmModel, failed_checks: int = 2) -> FlaggerRule:
        found = tuple(
            fixed_threshold(g.metric, g.bound_for(plan.tier), baseline) for g in live_gates(plan)
        )
        return cls(found, failed_checks)

    def failures(self, candidate: Snapshot) -> list[str]:
        """Why this interval's check fails (empty: it passes)."""
        found = []
        for t in self.thresholds:
            value = _estimate(t.metric, candidate)
            if value is None:
                found.append(f"no values found for {t.metric}")
            elif (value > t.limit) if t.bad_above else (value < t.limit):
                found.append(f"{t.metric} {value:.4g} beyond {t.describe()}")
        return found


def _estimate(metric: str, snap: Snapshot) -> float | None:
    if sample_size(metric, snap) == 0:
        return None
    value = point_estimate(metric, snap)
    return None if math.isnan(value) else value
