"""The first stage's planned regression test (rollout/control/regression_test.py): when it is due,
what it finds, why it fails, and that its false-alarm rate is what it says (computed exactly)."""

from __future__ import annotations

import math

import pytest

from rollout.config.gates import Gate
from rollout.config.plan import Plan
from rollout.control.decide import RolloutState
from rollout.control.gates import evaluate_gates
from rollout.control.regression_test import (
    Finding,
    gate_alpha,
    regression_tests,
    relative_gates,
    with_findings,
)
from rollout.control.snapshot import Snapshot
from rollout.simulate.limit import binomial_pmf
from rollout.stats.gate_stats import more_hits_p_value, mover_difference
from tests.rollout.control.test_gates import _both, _cost, _err, _gate, _json, _lat

ERR_DELTA = _gate(metric="error_rate", max_delta_to_baseline=0.01)
ERR_RATIO = _gate(metric="error_rate", max_ratio_to_baseline=2)
P95_RATIO = _gate(metric="latency_p95", max_ratio_to_baseline=1.2)
JSON_DROP = _gate(metric="json_validity", max_delta_to_baseline=0.02)
FIRST = RolloutState("v1", "ramping", stage=0, weight=0.01)  # the first stage, nothing tested yet
BOTH = ["error_rate", "refusal_rate"]  # the default relative gates with samples in _err
BASE_P95 = Snapshot(requests=5000, duration=_lat(5000, 1.0, 1))


def _one(gate: Gate, base: Snapshot, cand: Snapshot) -> Finding:
    [tested] = regression_tests(Plan(gates=[gate]), FIRST, base, cand)
    return tested


@pytest.mark.parametrize(
    ("gate", "base", "cand", "worse"),
    [
        # +2 pp on 500 requests against +1 pp: worse (p 0.00035) and past the bound
        (ERR_DELTA, _err(100, 10000), _err(15, 500), True),
        # +0.8 pp: not shown worse (p 0.075)
        (ERR_DELTA, _err(100, 10000), _err(9, 500), False),
        # +0.5 pp on 100k requests: certainly worse, but within what the plan allows
        (ERR_DELTA, _err(1000, 100000), _err(1500, 100000), False),
        # ratio 3.2 against 2
        (ERR_RATIO, _err(100, 10000), _err(16, 500), True),
        # p95 x1.22 against x1.2: its 98% interval [1.17, 1.39] is above no change
        (P95_RATIO, BASE_P95, Snapshot(requests=500, duration=_lat(500, 1.3, 2)), True),
        # the same candidate as the baseline
        (P95_RATIO, BASE_P95, Snapshot(requests=500, duration=_lat(500, 1.0, 3)), False),
        # 6% invalid JSON against 1%, bound a drop of 2 pp: the misses are tested
        (JSON_DROP, _json(9900, 10000), _json(470, 500), True),
    ],
)
def test_what_the_test_finds(gate: Gate, base: Snapshot, cand: Snapshot, worse: bool) -> None:
    assert _one(gate, base, cand).worse is worse


def test_the_reason_has_the_numbers() -> None:
    assert _one(ERR_DELTA, _err(100, 10000), _err(15, 500)).reason == (
        "regression test at 500 candidate requests: error_rate worse than the baseline (errors:"
        " candidate 15/500, baseline 100/10000; p = 0.00035 <= 0.009, Fisher's exact test) and"
        " past max_delta_to_baseline 0.01"
    )
    assert _one(ERR_DELTA, _err(1000, 100000), _err(1500, 100000)).reason.endswith(
        "but its estimate is within max_delta_to_baseline 0.01"
    )


def test_the_false_alarm_is_shared_by_the_relative_gates() -> None:
    plan = Plan(gates=[ERR_DELTA, P95_RATIO, _gate(metric="error_rate", name="cap", max=0.05)])
    assert [g.key for g in relative_gates(plan)] == ["error_rate", "latency_p95"]
    [tested] = regression_tests(plan, FIRST, _err(100, 10000), _err(9, 500))
    # 0.01, less the gross-regression rule's 0.001, by need: a rate gate weighs twice a
    # quantile gate (2 of 3 parts)
    assert "p = 0.075 > 0.006," in tested.reason
    p95 = next(g for g in plan.gates if g.metric == "latency_p95")
    assert gate_alpha(plan, p95) == pytest.approx(0.003)


@pytest.mark.parametrize(
    ("plan", "stage", "tested", "cand", "due"),
    [
        (Plan(), 0, frozenset(), _err(9, 500), BOTH),
        (Plan(), 0, frozenset(), _err(9, 499), []),  # too few requests yet
        (Plan(), 1, frozenset(), _err(9, 500), []),  # the first stage only
        (Plan(), 0, frozenset({"error_rate"}), _err(9, 900), ["refusal_rate"]),  # made once
        (Plan(regression_test=None), 0, frozenset(), _err(9, 500), []),  # turned off
        (Plan(regression_test={"requests": 300}), 0, frozenset(), _err(9, 300), BOTH),
    ],
)
def test_when_it_is_due(
    plan: Plan, stage: int, tested: frozenset[str], cand: Snapshot, due: list[str]
) -> None:
    # p95 (a default gate) has no samples here: it waits for a later look
    state = RolloutState("v1", "ramping", stage=stage, tested=tested)
    got = regression_tests(plan, state, _err(100, 10000), cand)
    assert [t.gate for t in got] == due


def test_a_gate_without_its_samples_waits() -> None:
    gate = _gate(metric="error_rate", max_delta_to_baseline=0.01, min_sample=1000)
    assert regression_tests(Plan(gates=[gate]), FIRST, _err(10, 10000), _err(9, 500)) == ()


def test_an_invalid_budget_is_refused() -> None:
    with pytest.raises(ValueError, match="false_alarm"):
        Plan(regression_test={"false_alarm": 0})


def _size(rejects, n_c: int, n_b: int, p: float) -> float:
    """The exact chance that `rejects(x, b)` fails a candidate as good as the baseline (both at
    rate p): summed over the baseline's counts, each with the fewest candidate hits that fail."""
    pc, pb = binomial_pmf(n_c, p), binomial_pmf(n_b, p)
    sd = math.sqrt(n_b * p)
    total = 0.0
    for b in range(max(0, int(n_b * p - 8 * sd)), int(n_b * p + 8 * sd) + 1):
        x = next((x for x in range(n_c + 1) if rejects(x, b)), n_c + 1)
        total += pb[b] * sum(pc[x:])
    return total


@pytest.mark.parametrize(("n_c", "n_b", "p"), [(500, 49500, 0.01), (200, 19800, 0.02)])
def test_fishers_test_keeps_its_level_where_an_interval_does_not(
    n_c: int, n_b: int, p: float
) -> None:
    alpha = 0.0025  # a share of the default 1% over four gates
    fisher = _size(lambda x, b: more_hits_p_value((x, n_c), (b, n_b)) <= alpha, n_c, n_b, p)
    newcombe = _size(
        lambda x, b: mover_difference((x, n_c), (b, n_b), 1 - 2 * alpha).low > 0, n_c, n_b, p
    )
    assert fisher <= alpha
    assert newcombe > 2 * alpha  # why proportions are not tested on their intervals


@pytest.mark.parametrize(("cand_cost", "verdict"), [(0.001, "pass"), (0.008, "fail")])
def test_a_trade_off_waives_the_regression_test_too(cand_cost: float, verdict: str) -> None:
    # 20% refusals against 1%: shown worse. A 90% drop in cost per 1k waives it, as it waives
    # the breach; a 20% drop does not.
    gate = _gate(
        metric="refusal_rate",
        max_delta_to_baseline=0.01,
        trade_off={"metric": "cost_per_1k", "min_drop_percent": 80},
    )
    plan = Plan(gates=[gate], regression_test={"requests": 100})
    base, cand = _both(0, 2, _cost(0.01)), _both(0, 40, _cost(cand_cost, seed=5))
    findings = regression_tests(plan, FIRST, base, cand)
    assert [f.worse for f in findings] == [True]
    [result] = with_findings(evaluate_gates(plan, base, cand), findings)
    assert result.verdict == verdict
