"""A gate: a metric, its bound (exactly one of `max`, `min`, `max_ratio_to_baseline`,
`max_delta_to_baseline`, plus per-tier overrides), a minimum sample, a class and a trade-off; and
the default gates. Relative bounds always measure how much *worse* the candidate is (for
json_validity, where higher is better, the delta is baseline - candidate).
"""

from __future__ import annotations

from typing import Any, get_args

from pydantic import Field, PositiveFloat, PositiveInt, field_validator, model_validator

from rollout.config.metrics import (
    BOUND_KINDS,
    JUDGE_METRICS,
    METRICS,
    BoundKind,
    GateClass,
    Metric,
    Tier,
)
from rollout.config.strict import Strict


class Bound(Strict):
    """Exactly one limit. Ratios and deltas compare the candidate with the baseline over the same
    window; a ratio of 1.2 allows the candidate to be 20% worse."""

    max: float | None = None
    min: float | None = None
    max_ratio_to_baseline: PositiveFloat | None = None
    max_delta_to_baseline: float | None = Field(default=None, ge=0.0)

    @model_validator(mode="after")
    def _exactly_one(self) -> Bound:
        given = [k for k in BOUND_KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            found = ", ".join(given) or "none"
            raise ValueError(f"give exactly one of {', '.join(BOUND_KINDS)} (found: {found})")
        return self

    @property
    def kind(self) -> BoundKind:
        return next(k for k in BOUND_KINDS if getattr(self, k) is not None)

    @property
    def limit(self) -> float:
        value = getattr(self, self.kind)
        assert value is not None
        return float(value)

    def describe(self) -> str:
        return f"{self.kind} {self.limit:g}"


def bound_problem(metric: str, bound: Bound) -> str | None:
    """Why `bound` makes no sense for `metric`, or None."""
    info = METRICS[metric]
    kind = bound.kind
    if metric in JUDGE_METRICS and kind not in ("max", "min"):
        absolute = "max" if info.better == "lower" else "min"
        return f"{metric} is about the judges, not an arm: use {absolute}"
    if info.better == "lower" and kind == "min":
        return f"{metric} is better lower: use max, not min"
    if info.better == "higher" and kind == "max":
        return f"{metric} is better higher: use min, not max"
    if info.better == "higher" and kind == "max_ratio_to_baseline":
        return f"{metric} is better higher: use min or max_delta_to_baseline"
    if info.kind == "proportion" and kind in ("max", "min") and not 0.0 <= bound.limit <= 1.0:
        return f"{metric} is a fraction: {kind} must be between 0 and 1"
    return None


class TradeOff(Strict):
    """Waive a gate when another metric improves enough: e.g. a quality gate is waived when
    cost_per_1k is shown (at the promote confidence) to drop by at least `min_drop_percent`."""

    metric: Metric = "cost_per_1k"
    min_drop_percent: float = Field(gt=0.0, lt=100.0)

    @field_validator("metric")
    @classmethod
    def _lower_is_better(cls, value: str) -> str:
        if METRICS[value].better != "lower":
            raise ValueError(f"{value} is better higher: a trade-off needs a metric that drops")
        return value


class Gate(Bound):
    """A metric, its bound (plus per-tier overrides), a minimum sample and a class: a primary
    failure rolls back, a secondary failure waits for an approver."""

    metric: str  # one of Metric, or score_<scorer> for a configured scorer
    name: str | None = None  # defaults to the metric; needed when two gates share one
    min_sample: PositiveInt = 100
    klass: GateClass = Field(default="primary", alias="class")
    trade_off: TradeOff | None = None
    tiers: dict[Tier, Bound] = {}

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        if value not in METRICS:
            known = ", ".join(get_args(Metric))
            raise ValueError(f"unknown metric (known: {known}, or score_<scorer>)")
        return value

    @model_validator(mode="after")
    def _sensible(self) -> Gate:
        problem = bound_problem(self.metric, self)
        if problem:
            raise ValueError(problem)
        for tier, bound in self.tiers.items():
            problem = bound_problem(self.metric, bound)
            if problem:
                raise ValueError(f"tiers.{tier}: {problem}")
        if self.trade_off is not None and self.trade_off.metric == self.metric:
            raise ValueError(f"trade_off: {self.metric} cannot waive itself")
        return self

    @property
    def key(self) -> str:
        return self.name or self.metric

    def bound_for(self, tier: Tier) -> Bound:
        """The tier's override, else the gate's own bound."""
        own = Bound(**{self.kind: self.limit})
        return self.tiers.get(tier, own)


def _gate(metric: str, klass: str, min_sample: int, **bounds: Any) -> Gate:
    tiers = bounds.pop("tiers", {})
    return Gate.model_validate(
        {"metric": metric, "class": klass, "min_sample": min_sample, "tiers": tiers, **bounds}
    )


# Used when a plan names no gates. Graduated: prod is the bound, staging and dev allow more.
DEFAULT_GATES: tuple[Gate, ...] = (
    _gate(
        "error_rate",
        "primary",
        100,
        max_delta_to_baseline=0.01,
        tiers={"staging": {"max_delta_to_baseline": 0.02}, "dev": {"max_delta_to_baseline": 0.05}},
    ),
    _gate(
        "latency_p95",
        "primary",
        100,
        max_ratio_to_baseline=1.2,
        tiers={"staging": {"max_ratio_to_baseline": 1.35}, "dev": {"max_ratio_to_baseline": 1.5}},
    ),
    _gate(
        "refusal_rate",
        "secondary",
        100,
        max_delta_to_baseline=0.02,
        tiers={"staging": {"max_delta_to_baseline": 0.03}, "dev": {"max_delta_to_baseline": 0.05}},
    ),
    # Offline only (`rollout eval`): the share of a dataset's cases whose expectations hold may
    # drop by at most this much against the baseline on the same cases.
    _gate(
        "expect_pass_rate",
        "primary",
        100,
        max_delta_to_baseline=0.05,
        tiers={"staging": {"max_delta_to_baseline": 0.08}, "dev": {"max_delta_to_baseline": 0.1}},
    ),
)
