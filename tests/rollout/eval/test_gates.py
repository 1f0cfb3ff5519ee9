"""Offline gates on paired answers (rollout/eval/gates.py, metrics.py, verdict.py): table tests on
made-up calls, with the statistics' own figures where they are fixed."""

from __future__ import annotations

import pytest

from rollout.config.gates import Gate
from rollout.config.plan import Plan
from rollout.eval.answer import Answer
from rollout.eval.expect import CheckResult
from rollout.eval.gates import GateOutcome, judge_gates
from rollout.eval.metrics import paired_values
from rollout.eval.result import Call
from rollout.eval.verdict import overall_verdict

N = 200


def call(
    case: int,
    arm: str,
    *,
    error: bool = False,
    refused: bool = False,
    passed: bool | None = None,
    duration: float = 1.0,
    cost: float | None = 0.001,
    repeat: int = 0,
) -> Call:
    checks = () if passed is None else (CheckResult("contains", passed, "" if passed else "x"),)
    return Call(
        case=f"c{case:03d}",
        arm=arm,
        repeat=repeat,
        answer=Answer(
            text=None if error else "t", error="upstream_5xx" if error else None, refused=refused
        ),
        status=500 if error else 200,
        duration=duration,
        ttft=None,
        cost_usd=cost,
        input_tokens=10,
        model="m",
        checks=checks,
    )


def arms(
    bad_candidate: set[int] = frozenset(), bad_baseline: set[int] = frozenset(), **kw
) -> list[Call]:
    calls = []
    for i in range(N):
        calls.append(call(i, "baseline", error=i in bad_baseline, **kw))
        calls.append(call(i, "candidate", error=i in bad_candidate, **kw))
    return calls


def plan(*gates: dict) -> Plan:
    return Plan(gates=[Gate.model_validate({"min_sample": 100, **g}) for g in gates])


def judge(p: Plan, calls: list[Call], tier: str = "prod") -> dict[str, GateOutcome]:
    return {o.gate: o for o in judge_gates(p, tier, calls)}


ERRORS = {"metric": "error_rate", "max_delta_to_baseline": 0.05}


@pytest.mark.parametrize(
    ("bad_candidate", "verdict"),
    [
        (set(range(40)), "fail"),  # +20 pp: the whole interval past 5 pp
        (set(), "pass"),  # no discordant pair: Newcombe's upper end 1.9 pp < 5 pp
        (set(range(8)), "inconclusive"),  # +4 pp: straddles 5 pp
    ],
)
def test_error_rate_verdicts(bad_candidate: set[int], verdict: str) -> None:
    outcome = judge(plan(ERRORS), arms(bad_candidate))["error_rate"]
    assert outcome.verdict == verdict, outcome.reason
    assert outcome.tested == "candidate - baseline" and outcome.samples == N
    assert outcome.interval is not None and outcome.p_worse is not None


def test_mcnemar_and_newcombe_figures_of_a_regression() -> None:
    outcome = judge(plan(ERRORS), arms(set(range(12))))["error_rate"]
    assert outcome.p_worse == pytest.approx(0.5**12)  # 12 discordant pairs, all one way
    assert outcome.interval.value == pytest.approx(0.06)
    assert outcome.baseline == 0.0 and outcome.candidate == pytest.approx(0.06)


def test_the_same_errors_on_both_arms_cancel_in_the_pairing() -> None:
    shared = set(range(30))
    outcome = judge(plan(ERRORS), arms(shared, shared))["error_rate"]
    assert outcome.interval.value == 0.0 and outcome.p_worse == 1.0
    assert outcome.verdict == "pass"  # 15% errors on both arms: no concordant pair counts


def test_too_few_cases_is_no_data_never_pass() -> None:
    outcome = judge(plan({**ERRORS, "min_sample": 500}), arms())["error_rate"]
    assert outcome.verdict == "no_data" and outcome.reason == (
        "200 cases with data on both arms; the gate needs 500"
    )


def test_an_inconclusive_gate_says_how_many_more_cases_would_decide() -> None:
    outcome = judge(plan({"metric": "error_rate", "max_delta_to_baseline": 0.01}), arms())
    assert outcome["error_rate"].verdict == "inconclusive"
    assert outcome["error_rate"].reason.endswith("about 3.6x the cases would decide it")


def test_shadow_pair_gates_are_live_only() -> None:
    p = Plan.model_validate(
        {"gates": [{"metric": "disagreement_text", "max_delta_to_baseline": 0.1}], "shadow": {}}
    )
    assert judge(p, arms())["disagreement_text"].verdict == "live_only"


def test_expect_pass_rate_counts_failed_expectations_as_the_bad_event() -> None:
    calls = []
    for i in range(N):
        calls.append(call(i, "baseline", passed=True))
        calls.append(call(i, "candidate", passed=i >= 30))
    outcome = judge(plan({"metric": "expect_pass_rate", "max_delta_to_baseline": 0.05}), calls)
    gate = outcome["expect_pass_rate"]
    assert gate.tested == "baseline - candidate" and gate.verdict == "fail"
    assert (gate.baseline, gate.candidate) == (1.0, pytest.approx(0.85))


@pytest.mark.parametrize(
    ("candidate_ms", "verdict"), [(1.0, "pass"), (1.6, "fail"), (1.19, "inconclusive")]
)
def test_latency_ratio_by_the_paired_bootstrap(candidate_ms: float, verdict: str) -> None:
    calls = []
    for i in range(N):
        base = 1.0 + (i % 20) / 10  # cases differ; the pairing sees through it
        jitter = 1.0 + ((i * 7) % 11 - 5) / 25  # and each call is +-20% off its case
        calls.append(call(i, "baseline", duration=base))
        calls.append(call(i, "candidate", duration=base * candidate_ms * jitter))
    p = plan({"metric": "latency_p95", "max_ratio_to_baseline": 1.2})
    outcome = judge(p, calls)["latency_p95"]
    assert outcome.verdict == verdict, outcome.reason
    assert outcome.interval.value == pytest.approx(candidate_ms, rel=0.1)


def test_absolute_bound_on_the_candidate_rate() -> None:
    outcome = judge(plan({"metric": "refusal_rate", "max": 0.1}), arms())["refusal_rate"]
    assert outcome.tested == "candidate" and outcome.verdict == "pass"  # Wilson 0..1.9%


def test_a_failing_gate_is_waived_when_cost_drops_enough() -> None:
    calls = []
    for i in range(N):
        calls.append(call(i, "baseline", cost=0.010, error=False))
        calls.append(call(i, "candidate", cost=0.001, error=i < 40))
    gate = {**ERRORS, "trade_off": {"metric": "cost_per_1k", "min_drop_percent": 80}}
    outcome = judge(plan(gate), calls)["error_rate"]
    assert outcome.verdict == "fail" and outcome.holds
    assert outcome.waived is not None and outcome.waived.startswith("cost_per_1k drops by")


def test_repeats_are_averaged_per_case_not_counted_as_cases() -> None:
    calls = [
        call(i, arm, repeat=r, error=(arm == "candidate" and r == 0 and i < 50))
        for i in range(N)
        for arm in ("baseline", "candidate")
        for r in range(2)
    ]
    paired = paired_values("error_rate", calls)
    assert len(paired) == N and not paired.whole
    assert sorted(set(paired.candidate)) == [0.0, 0.5]


def _outcome(klass: str, verdict: str, waived: str | None = None) -> GateOutcome:
    return GateOutcome(
        f"g-{klass}-{verdict}", "error_rate", klass, verdict, "b", "r", 1, waived=waived
    )


@pytest.mark.parametrize(
    ("outcomes", "stopped", "overall", "code"),
    [
        ([("primary", "pass"), ("secondary", "pass")], None, "pass", 0),
        ([("primary", "fail"), ("secondary", "pass")], None, "fail", 1),
        ([("primary", "fail"), ("primary", "no_data")], None, "fail", 1),
        ([("primary", "pass"), ("secondary", "fail")], None, "conditional_pass", 2),
        ([("primary", "pass"), ("secondary", "no_data")], None, "conditional_pass", 2),
        ([("primary", "inconclusive"), ("secondary", "fail")], None, "could_not_tell", 3),
        ([("primary", "no_data")], None, "could_not_tell", 3),
        ([("primary", "pass")], "cost cap reached", "could_not_tell", 3),
        ([("primary", "fail")], "cost cap reached", "fail", 1),
        ([("primary", "live_only"), ("primary", "pass")], None, "pass", 0),
    ],
)
def test_overall_verdict(outcomes: list, stopped: str | None, overall: str, code: int) -> None:
    verdict = overall_verdict([_outcome(k, v) for k, v in outcomes], stopped)
    assert (verdict.overall, verdict.exit_code) == (overall, code)


def test_a_waived_primary_failure_passes() -> None:
    verdict = overall_verdict([_outcome("primary", "fail", waived="cost drops")], None)
    assert verdict.overall == "pass"
