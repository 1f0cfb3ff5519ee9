"""A rollout's plan: how the candidate's share grows (stages), what each stage must show before the
next (duration, sample, gates: rollout/config/gates.py), who must approve, and how strict the
gates are (tier). The metric catalogue is rollout/config/metrics.py.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from pydantic import (
    Field,
    PositiveFloat,
    PositiveInt,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from rollout.config.gates import DEFAULT_GATES, Gate
from rollout.config.metrics import Tier
from rollout.config.presets import expand_preset
from rollout.config.strict import Strict


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
DEFAULT_HOLD_WARNING_FACTOR = 3.0


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
    # A stage (or the shadow phase, or the bake) that holds longer than this many times its
    # minimum duration is logged and audited once (`hold_too_long`): a gate may be waiting for
    # data it cannot get. null: never warned.
    hold_warning_factor: float | None = Field(default=DEFAULT_HOLD_WARNING_FACTOR, gt=1.0)

    # Offline metrics that this rollout measures on traffic too (its `scoring:` section's
    # score_<name>): set by the rollout, not written in the plan.
    _live_metrics: frozenset[str] = PrivateAttr(default=frozenset())

    @property
    def live_metrics(self) -> frozenset[str]:
        return self._live_metrics

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
