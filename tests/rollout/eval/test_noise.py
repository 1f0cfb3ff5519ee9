"""The arms' disagreement beside the baseline's own (rollout/eval/noise.py)."""

from __future__ import annotations

from rollout.eval.answer import Answer
from rollout.eval.expect import CheckResult
from rollout.eval.noise import disagreement
from rollout.eval.result import Call


def call(case: int, arm: str, repeat: int, passed: bool) -> Call:
    return Call(
        case=f"c{case}",
        arm=arm,
        repeat=repeat,
        answer=Answer(text="t", error=None),
        status=200,
        duration=0.1,
        ttft=None,
        cost_usd=None,
        input_tokens=None,
        model="m",
        checks=(CheckResult("contains", passed, ""),),
    )


def test_arms_against_the_baselines_own_noise() -> None:
    calls = []
    for i in range(100):
        calls.append(call(i, "baseline", 0, True))
        calls.append(call(i, "baseline", 1, i >= 10))  # the baseline flips on 10 cases
        calls.append(call(i, "candidate", 0, i >= 30))  # the candidate differs on 30
        calls.append(call(i, "candidate", 1, i >= 30))
    found = disagreement(calls, 0.95)
    assert (found["between_arms"]["disagree"], found["between_arms"]["cases"]) == (30, 100)
    assert (found["baseline_self"]["disagree"], found["baseline_self"]["cases"]) == (10, 100)
    low, high = found["baseline_self"]["interval"]
    assert low < 0.1 < high


def test_one_answer_per_case_has_no_noise_figure() -> None:
    calls = [call(i, arm, 0, True) for i in range(5) for arm in ("baseline", "candidate")]
    found = disagreement(calls, 0.95)
    assert found["between_arms"]["rate"] == 0.0 and found["baseline_self"] is None
