"""The rollout plan in config: defaults, shorthand, tiers, and exact messages for bad plans."""

from __future__ import annotations

import pytest

from rollout.config import parse_config
from rollout.config.gates import DEFAULT_GATES, Bound, Gate
from rollout.config.metrics import METRICS
from rollout.config.plan import Plan
from rollout.control.gates import live_gates
from rollout.errors import ConfigError

BASE = """providers:
  p: {base_url: 'http://127.0.0.1:9/v1'}
routes:
  - {prefix: /v1, provider: p}
rollouts:
  - name: r
    candidate: {model: m2}
"""


def _plan(text: str) -> Plan:
    return parse_config(BASE + "    plan:\n" + text + "\n").rollouts[0].plan


def _errors(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(BASE + "    plan:\n" + text + "\n", "bad.yaml")
    return str(info.value).splitlines()


def test_a_rollout_without_a_plan_gets_the_default_ramp_and_gates() -> None:
    plan = parse_config(BASE).rollouts[0].plan
    assert [s.percent for s in plan.stages] == [1, 5, 25, 50, 100]
    assert plan.tier == "prod" and plan.rollback_after == 2 and plan.shadow is None
    assert plan.confidence.promote == 0.95 and plan.confidence.rollback == 0.99
    assert plan.catastrophe.min_requests == 5 and plan.catastrophe.error_rate == 0.9
    keys = ["error_rate", "latency_p95", "refusal_rate", "expect_pass_rate"]
    assert [g.key for g in plan.gates] == keys
    assert [g.key for g in live_gates(plan)] == keys[:3]  # the last is `rollout eval`'s


def test_bare_percents_and_stage_objects_mix_and_take_plan_defaults() -> None:
    plan = _plan(
        "      min_duration: 60\n      min_requests: 50\n"
        "      stages: [10, {percent: 50, min_duration: 5, min_subjects: 20}, 100]"
    )
    first, second = plan.needs(0), plan.needs(1)
    assert (first.percent, first.min_duration, first.min_requests, first.min_subjects) == (
        10,
        60,
        50,
        None,
    )
    assert (second.min_duration, second.min_requests, second.min_subjects) == (5, 50, 20)


@pytest.mark.parametrize(
    ("weight", "index"),
    [(0.0, 0), (0.01, 0), (0.049, 0), (0.05, 1), (0.3, 2), (0.5, 3), (1.0, 4)],
)
def test_a_running_weight_maps_onto_the_highest_stage_not_above_it(
    weight: float, index: int
) -> None:
    assert Plan().stage_for_weight(weight) == index


@pytest.mark.parametrize(
    ("tier", "expected"),
    [("prod", Bound(max=0.02)), ("staging", Bound(max=0.05)), ("dev", Bound(max=0.1))],
)
def test_the_tier_selects_the_gate_bound(tier: str, expected: Bound) -> None:
    gate = Gate.model_validate(
        {
            "metric": "error_rate",
            "max": 0.02,
            "tiers": {"staging": {"max": 0.05}, "dev": {"max": 0.1}},
        }
    )
    assert gate.bound_for(tier) == expected  # type: ignore[arg-type]


def test_default_gates_loosen_from_prod_to_dev() -> None:
    for gate in DEFAULT_GATES:
        limits = [gate.bound_for(t).limit for t in ("prod", "staging", "dev")]
        assert limits == sorted(limits) and limits[0] < limits[-1]


def test_every_metric_in_the_catalogue_is_accepted_with_a_sensible_bound() -> None:
    for metric, info in METRICS.items():
        bound = {"min": 0.5} if info.better == "higher" else {"max": 0.5}
        assert Gate.model_validate({"metric": metric, **bound}).key == metric


def test_gate_options_parse() -> None:
    plan = _plan(
        "      tier: staging\n      approve_before: [50, 100]\n"
        "      shadow: {duration: 30, min_requests: 10}\n"
        "      gates:\n"
        "        - {metric: refusal_rate, max_delta_to_baseline: 0.02, class: secondary,"
        " trade_off: {min_drop_percent: 80}}\n"
        "        - {metric: latency_p99, name: slow, max: 4, min_sample: 20}"
    )
    refusal, slow = plan.gates
    assert refusal.klass == "secondary" and refusal.trade_off is not None
    assert refusal.trade_off.metric == "cost_per_1k" and refusal.trade_off.min_drop_percent == 80
    assert (slow.key, slow.min_sample, slow.bound_for("staging")) == ("slow", 20, Bound(max=4))
    assert plan.shadow is not None and plan.shadow.duration == 30
    assert plan.approve_before == [50, 100]


G = "bad.yaml: rollouts[0].plan.gates[0]"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "      stages: [5, 1, 100]",
            "bad.yaml: rollouts[0].plan.stages: percents must be strictly increasing"
            " (got [5, 1, 100])",
        ),
        (
            "      stages: [1, 50]",
            "bad.yaml: rollouts[0].plan.stages: the last stage must be 100"
            " (the ramp ends with everyone on it) (got [1, 50])",
        ),
        (
            "      stages: [0, 100]",
            "bad.yaml: rollouts[0].plan.stages[0].percent: Input should be greater than 0 (got 0)",
        ),
        (
            "      stages: [1, 150]",
            "bad.yaml: rollouts[0].plan.stages[1].percent:"
            " Input should be less than or equal to 100 (got 150)",
        ),
        (
            "      stages: []",
            "bad.yaml: rollouts[0].plan.stages: needs at least one stage (got [])",
        ),
        (
            "      approve_before: [30]",
            "bad.yaml: rollouts[0].plan.approve_before: 30 is not a stage"
            " (stages: 1, 5, 25, 50, 100) (got [30])",
        ),
        (
            "      tier: qa",
            "bad.yaml: rollouts[0].plan.tier:"
            " Input should be 'dev', 'staging' or 'prod' (got 'qa')",
        ),
        (
            "      gates: [{metric: error_rate}]",
            f"{G}: give exactly one of max, min, max_ratio_to_baseline, max_delta_to_baseline"
            " (found: none) (got {'metric': 'error_rate'})",
        ),
        (
            "      gates: [{metric: error_rate, max: 0.1, min: 0.0}]",
            f"{G}: give exactly one of max, min, max_ratio_to_baseline, max_delta_to_baseline"
            " (found: max, min) (got {'metric': 'error_rate', 'max': 0.1, 'min': 0.0})",
        ),
        (
            "      gates: [{metric: error_rate, min: 0.1}]",
            f"{G}: error_rate is better lower: use max, not min"
            " (got {'metric': 'error_rate', 'min': 0.1})",
        ),
        (
            "      gates: [{metric: json_validity, max: 0.9}]",
            f"{G}: json_validity is better higher: use min, not max"
            " (got {'metric': 'json_validity', 'max': 0.9})",
        ),
        (
            "      gates: [{metric: json_validity, max_ratio_to_baseline: 1.1}]",
            f"{G}: json_validity is better higher: use min or max_delta_to_baseline"
            " (got {'metric': 'json_validity', 'max_ratio_to_baseline': 1.1})",
        ),
        (
            "      gates: [{metric: error_rate, max: 5}]",
            f"{G}: error_rate is a fraction: max must be between 0 and 1"
            " (got {'metric': 'error_rate', 'max': 5})",
        ),
        (
            "      gates: [{metric: latency_p90, max: 5}]",
            f"{G}.metric: unknown metric (known: error_rate, refusal_rate, json_validity,"
            " latency_p50, latency_p95, latency_p99, ttft_p95, cost_per_1k,"
            " disagreement_error, disagreement_refusal, disagreement_json,"
            " disagreement_tools, disagreement_finish, disagreement_length,"
            " disagreement_text, expect_pass_rate, judge_disagreement, review_agreement,"
            " or score_<scorer>) (got 'latency_p90')",
        ),
        (
            "      gates: [{metric: error_rate, max: 0.1, class: tertiary}]",
            f"{G}.class: Input should be 'primary' or 'secondary' (got 'tertiary')",
        ),
        (
            "      gates: [{metric: error_rate, max: 0.1, klass: primary}]",
            f"{G}.klass: unknown key",
        ),
        (
            "      gates: [{metric: error_rate, max_delta_to_baseline: -0.1}]",
            f"{G}.max_delta_to_baseline: Input should be greater than or equal to 0 (got -0.1)",
        ),
        (
            "      gates: [{metric: error_rate, max: 0.1, tiers: {dev: {min: 0.5}}}]",
            f"{G}: tiers.dev: error_rate is better lower: use max, not min"
            " (got {'metric': 'error_rate', 'max': 0.1, 'tiers': {'dev': {'min': 0.5}}})",
        ),
        (
            "      gates: [{metric: refusal_rate, max: 0.1, trade_off: {min_drop_percent: 120}}]",
            f"{G}.trade_off.min_drop_percent: Input should be less than 100 (got 120)",
        ),
        (
            "      gates: [{metric: refusal_rate, max: 0.1,"
            " trade_off: {metric: json_validity, min_drop_percent: 20}}]",
            f"{G}.trade_off.metric: json_validity is better higher:"
            " a trade-off needs a metric that drops (got 'json_validity')",
        ),
        (
            "      confidence: {promote: 0.99, rollback: 0.95}",
            "bad.yaml: rollouts[0].plan.confidence: rollback must be at least as strict as promote"
            " (got {'promote': 0.99, 'rollback': 0.95})",
        ),
        (
            "      gates: [{metric: error_rate, max: 0.1}, {metric: error_rate, max: 0.2}]",
            "bad.yaml: rollouts[0].plan.gates: gate 'error_rate' is named twice: give each gate"
            " its own name (got [{'metric': 'error_rate', 'max': 0.1}, {'metric': 'error_rate',"
            " 'max': 0.2}])",
        ),
    ],
)
def test_invalid_plans_say_where_and_why(text: str, expected: str) -> None:
    assert _errors(text) == [expected]


def test_two_gates_on_one_metric_are_fine_with_names() -> None:
    plan = _plan(
        "      gates: [{metric: error_rate, max: 0.1},"
        " {metric: error_rate, name: error_delta, max_delta_to_baseline: 0.01}]"
    )
    assert [g.key for g in plan.gates] == ["error_rate", "error_delta"]


def test_require_eval_parses_and_defaults_to_prod() -> None:
    assert _plan("      automatic: true").require_eval is None
    assert _plan("      {automatic: true, require_eval: {tier: staging}}").require_eval.tier == (  # type: ignore[union-attr]
        "staging"
    )
    assert _plan("      {automatic: true, require_eval: {}}").require_eval.tier == "prod"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "text",
    [
        "      {automatic: true, require_eval: {tier: qa}}",
        "      {automatic: true, require_eval: {tier: prod, dataset: x}}",
        "      {require_eval: {tier: prod}}",
    ],
    ids=["unknown tier", "unknown key", "not automatic"],
)
def test_a_bad_require_eval_is_refused(text: str) -> None:
    (message,) = _errors(text)
    assert message.startswith("bad.yaml: rollouts[0].plan")
    assert "require_eval" in message


def test_require_eval_needs_a_config_weight_of_zero() -> None:
    text = BASE + "    weight: 0.1\n    plan: {automatic: true, require_eval: {tier: prod}}\n"
    with pytest.raises(ConfigError, match=r"plan\.require_eval: weight must be 0"):
        parse_config(text, "bad.yaml")
