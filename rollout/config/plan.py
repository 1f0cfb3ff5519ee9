"""A rollout's plan: how the candidate's share grows (stages), what each stage must show before the
next (duration, sample, gates), who must approve, and how strict the gates are (tier).

The metric catalogue (`METRICS`) lives here, once: config validation, the gate statistics and the
docs all read it. A gate's bound is exactly one of `max`, `min`, `max_ratio_to_baseline`,
`max_delta_to_baseline`; relative bounds always measure how much *worse* the candidate is (for
json_validity, where higher is better, the delta is baseline - candidate).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any, Literal, get_args

from pydantic import (
    Field,
    PositiveFloat,
    PositiveInt,
    ValidationInfo,
    field_validator,
    model_validator,
)

from rollout.config.presets import expand_preset
from rollout.config.strict import Strict

Tier = Literal["dev", "staging", "prod"]
GateClass = Literal["primary", "secondary"]
Metric = Literal[
    "error_rate",
    "refusal_rate",
    "json_validity",
    "latency_p50",
    "latency_p95",
    "latency_p99",
    "ttft_p95",
    "cost_per_1k",
    "disagreement_error",
    "disagreement_refusal",
    "disagreement_json",
    "disagreement_tools",
    "disagreement_finish",
    "disagreement_length",
    "disagreement_text",
    "expect_pass_rate",
    "judge_disagreement",
    "review_agreement",
]
SCORE_METRIC = re.compile(r"^score_[a-z][a-z0-9_]*$")  # score_<scorer>: the scorer's score
BoundKind = Literal["max", "min", "max_ratio_to_baseline", "max_delta_to_baseline"]
BOUND_KINDS: tuple[BoundKind, ...] = (
    "max",
    "min",
    "max_ratio_to_baseline",
    "max_delta_to_baseline",
)


@dataclass(frozen=True, slots=True)
class MetricInfo:
    """How a metric is measured. kind: proportion (hits / trials), quantile (of a histogram),
    cost (USD per 1000 priced requests). better: the direction of improvement."""

    kind: Literal["proportion", "quantile", "cost"]
    better: Literal["lower", "higher"]
    source: str = ""  # proportion: "hits/trials" snapshot fields; quantile: histogram name
    q: float = 0.0  # quantile only
    # Judged on shadow pairs: the "candidate" side is how often the candidate's answer disagreed
    # with the live one, the "baseline" side how often a second baseline call did (the noise).
    pairs: bool = False
    # Measured offline only, by `rollout eval` on a dataset (e.g. the share of cases whose
    # expectations hold): the live controller leaves such gates out.
    offline: bool = False


class _Catalogue(dict[str, MetricInfo]):
    """The known metrics, and `score_<scorer>` for any scorer: an offline proportion (its pass
    rate, or mean score), better higher. Offline until online scoring measures them live."""

    def __missing__(self, key: str) -> MetricInfo:
        if isinstance(key, str) and SCORE_METRIC.match(key):
            return SCORE_INFO
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return super().__contains__(key) or (isinstance(key, str) and bool(SCORE_METRIC.match(key)))


SCORE_INFO = MetricInfo("proportion", "higher", "score_sum/score_count", offline=True)
# About the judges, not the arms: judged on the run's judge checks, absolute bounds only.
JUDGE_METRICS = ("judge_disagreement", "review_agreement")

METRICS: dict[str, MetricInfo] = _Catalogue(
    {
        "error_rate": MetricInfo("proportion", "lower", "errors/requests"),
        "refusal_rate": MetricInfo("proportion", "lower", "refusals/requests"),
        "json_validity": MetricInfo("proportion", "higher", "json_valid/json_checks"),
        "latency_p50": MetricInfo("quantile", "lower", "duration", 0.50),
        "latency_p95": MetricInfo("quantile", "lower", "duration", 0.95),
        "latency_p99": MetricInfo("quantile", "lower", "duration", 0.99),
        "ttft_p95": MetricInfo("quantile", "lower", "ttft", 0.95),
        "cost_per_1k": MetricInfo("cost", "lower"),
        **{
            f"disagreement_{c}": MetricInfo(
                "proportion", "lower", f"disagree:{c}/pairs:{c}", pairs=True
            )
            for c in ("error", "refusal", "json", "tools", "finish", "length", "text")
        },
        "expect_pass_rate": MetricInfo(
            "proportion", "higher", "expect_pass/expect_cases", offline=True
        ),
        "judge_disagreement": MetricInfo(
            "proportion", "lower", "judge_disagree/judge_checks", offline=True
        ),
        "review_agreement": MetricInfo(
            "proportion", "higher", "review_agree/review_labels", offline=True
        ),
    }
)


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


class Stage(Strict):
    """One step of the ramp: the candidate's percent of subjects and what the stage must show.
    Unset minimums take the plan's defaults. A bare number in YAML is a percent."""

    percent: float = Field(gt=0.0, le=100.0)
    min_duration: float | None = Field(default=None, ge=0.0)  # seconds
    min_requests: int | None = Field(default=None, ge=0)  # candidate requests in the stage
    min_subjects: int | None = Field(default=None, ge=0)


@dataclass(frozen=True, slots=True)
class StageNeeds:
    """A stage's minimums with the plan's defaults filled in."""

    percent: float
    min_duration: float
    min_requests: int
    min_subjects: int | None


class Shadow(Strict):
    """Mirror traffic to the candidate before any user sees it."""

    duration: float = Field(default=600.0, ge=0.0)  # seconds
    min_requests: int = Field(default=100, ge=0)  # shadow calls the candidate answered
    # The shadow phase's planned regression test (rollout/control/shadow_test.py) is made once
    # both the candidate's shadow calls and the noise arm's second baseline calls number this
    # many: about 90% power for errors +2 pp over 1% at the default share (docs/controller.md).
    test_requests: PositiveInt = 2000


class Confidence(Strict):
    """Two-sided confidence levels. Rolling back needs the stricter one: the controller looks
    every interval, and each look is another chance of a false alarm."""

    promote: float = Field(default=0.95, gt=0.5, lt=1.0)
    rollback: float = Field(default=0.99, gt=0.5, lt=1.0)

    @model_validator(mode="after")
    def _rollback_stricter(self) -> Confidence:
        if self.rollback < self.promote:
            raise ValueError("rollback must be at least as strict as promote")
        return self


class RegressionTest(Strict):
    """When the candidate has served `requests` requests in the first stage, each gate relative
    to the baseline is tested once: a candidate shown worse than the baseline, with its estimate
    past the bound, fails there and then. `false_alarm` is the chance of failing a candidate as
    good as the baseline, over all those gates together (each gets an equal share)."""

    requests: PositiveInt = 500
    false_alarm: float = Field(default=0.01, gt=0.0, le=0.2)


class GrossRegression(Strict):
    """Roll back a candidate shown `error_rate_delta` worse than the baseline by a sequential
    probability-ratio test over its live calls since the first stage began, at any look, without
    waiting for min_sample (rollout/control/gross.py). `false_alarm` is its part of
    `regression_test.false_alarm`."""

    error_rate_delta: float = Field(default=0.10, gt=0.0, lt=1.0)
    false_alarm: float = Field(default=0.001, gt=0.0, le=0.05)


class RequireEval(Strict):
    """Evidence before any traffic: the controller starts a version (its shadow phase or first
    stage) only once `rollout eval --record` stored a passing result for exactly that version at
    `tier` or stricter (rollout/control/eval_evidence.py). A conditional pass needs an approver;
    an approver may override a missing or failed one (audited, marked for extra monitoring)."""

    tier: Tier = "prod"


class Catastrophe(Strict):
    """Roll back at once, without waiting for intervals, when nearly every request fails."""

    min_requests: PositiveInt = 5
    error_rate: float = Field(default=0.9, gt=0.0, le=1.0)


DEFAULT_STAGES = (1.0, 5.0, 25.0, 50.0, 100.0)


class Plan(Strict):
    # The controller ramps this rollout through the stages and gates, and rolls it back by
    # itself. Off (the default): the weight is whatever the config or the admin API sets.
    automatic: bool = False
    stages: list[Stage] = [Stage(percent=p) for p in DEFAULT_STAGES]
    min_duration: float = Field(default=300.0, ge=0.0)  # seconds, per stage unless it says
    min_requests: int = Field(default=200, ge=0)
    min_subjects: int | None = Field(default=None, ge=0)
    evaluation_interval: PositiveFloat = 60.0  # seconds between two looks
    bake_time: float = Field(default=600.0, ge=0.0)  # seconds at 100% before complete
    approve_before: list[float] = []  # stage percents a human must approve entering
    shadow: Shadow | None = None
    tier: Tier = "prod"
    gates: list[Gate] = list(DEFAULT_GATES)
    rollback_after: PositiveInt = 2  # consecutive failing looks of a primary gate
    # One planned test per gate relative to the baseline, in the first stage: is the candidate
    # worse than the baseline? (rollout/control/regression_test.py). null: none, only breaches
    # roll back.
    regression_test: RegressionTest | None = RegressionTest()
    # A candidate failing far more often than the baseline is rolled back within a few dozen
    # calls, across stages (rollout/control/gross.py). null: off.
    gross_regression: GrossRegression | None = GrossRegression()
    confidence: Confidence = Confidence()
    catastrophe: Catastrophe = Catastrophe()
    # A recorded passing eval of the candidate's version before the controller starts it.
    # null (the default): not required.
    require_eval: RequireEval | None = None

    @model_validator(mode="after")
    def _eval_needs_the_controller(self) -> Plan:
        # Only the controller enforces it: a plan steered by hand would ignore it unseen.
        if self.require_eval is not None and not self.automatic:
            raise ValueError("require_eval is enforced by the controller: set automatic: true")
        return self

    @model_validator(mode="after")
    def _gross_inside_the_budget(self) -> Plan:
        test, gross = self.regression_test, self.gross_regression
        if test is not None and gross is not None and gross.false_alarm >= test.false_alarm:
            raise ValueError(
                f"gross_regression.false_alarm ({gross.false_alarm:g}) is taken from"
                f" regression_test.false_alarm ({test.false_alarm:g}): it must be smaller"
            )
        return self

    @field_validator("stages", mode="before")
    @classmethod
    def _bare_percents(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [
                {"percent": v} if isinstance(v, int | float) and not isinstance(v, bool) else v
                for v in value
            ]
        return value

    @field_validator("stages")
    @classmethod
    def _increasing(cls, value: list[Stage]) -> list[Stage]:
        if not value:
            raise ValueError("needs at least one stage")
        percents = [s.percent for s in value]
        if any(b <= a for a, b in itertools.pairwise(percents)):
            raise ValueError("percents must be strictly increasing")
        if percents[-1] != 100.0:
            raise ValueError("the last stage must be 100 (the ramp ends with everyone on it)")
        return value

    @field_validator("gates", mode="before")
    @classmethod
    def _preset(cls, value: Any) -> Any:
        return expand_preset(value) if isinstance(value, dict) else value

    @field_validator("gates")
    @classmethod
    def _unique_names(cls, value: list[Gate]) -> list[Gate]:
        keys = [g.key for g in value]
        twice = sorted({k for k in keys if keys.count(k) > 1})
        if twice:
            raise ValueError(f"gate {twice[0]!r} is named twice: give each gate its own name")
        return value

    @field_validator("approve_before")
    @classmethod
    def _approvals_name_stages(cls, value: list[float], info: ValidationInfo) -> list[float]:
        stages = info.data.get("stages")
        if stages is None:  # the stages are invalid: reported there
            return value
        percents = [s.percent for s in stages]
        for p in value:
            if p not in percents:
                raise ValueError(f"{p:g} is not a stage (stages: {_list(percents)})")
        return value

    def needs(self, index: int) -> StageNeeds:
        stage = self.stages[index]
        return StageNeeds(
            percent=stage.percent,
            min_duration=_first(stage.min_duration, self.min_duration),
            min_requests=_first(stage.min_requests, self.min_requests),
            min_subjects=_first(stage.min_subjects, self.min_subjects),
        )

    def stage_for_weight(self, weight: float) -> int:
        """The index of the highest stage at or below `weight` (a fraction): where a running
        rollout stands after its stage list was edited. 0 when below the first stage."""
        below = [i for i, s in enumerate(self.stages) if s.percent <= weight * 100.0 + 1e-9]
        return below[-1] if below else 0


def _first(value: Any, default: Any) -> Any:
    return default if value is None else value


def _list(numbers: list[float]) -> str:
    return ", ".join(f"{n:g}" for n in numbers)
