"""A gate nearing its bound (rollout/control/approaching.py): table tests of the rule."""

from __future__ import annotations

import pytest

from rollout.config.gates import Bound
from rollout.control.approaching import approach_entry, approaching
from rollout.control.gates import GateResult
from rollout.stats.gate_stats import Interval


def result(metric: str, low: float, high: float, verdict: str = "pass") -> GateResult:
    return GateResult(
        gate=metric,
        metric=metric,
        klass="primary",
        verdict=verdict,
        bound="b",
        reason="r",
        samples=(100, 100),
        tested="candidate - baseline",
        interval=Interval((low + high) / 2, low, high),
    )


@pytest.mark.parametrize(
    ("metric", "bound", "low", "high", "verdict", "near"),
    [
        ("error_rate", {"max_delta_to_baseline": 0.02}, -0.01, 0.015, "pass", False),
        ("error_rate", {"max_delta_to_baseline": 0.02}, -0.01, 0.017, "pass", True),  # 85%
        # holding: wide for want of data is no news; an estimate near the bound is
        ("error_rate", {"max_delta_to_baseline": 0.02}, -0.01, 0.03, "inconclusive", False),
        ("error_rate", {"max_delta_to_baseline": 0.02}, 0.01, 0.024, "inconclusive", True),
        ("error_rate", {"max_delta_to_baseline": 0.02}, 0.03, 0.05, "fail", False),  # acted on
        ("latency_p95", {"max_ratio_to_baseline": 1.2}, 0.9, 1.15, "pass", False),
        ("latency_p95", {"max_ratio_to_baseline": 1.2}, 0.9, 1.17, "pass", True),  # 85% of 0.2
        ("latency_p95", {"max": 2.0}, 0.5, 1.7, "pass", True),
        ("json_validity", {"min": 0.95}, 0.97, 0.99, "pass", False),
        ("json_validity", {"min": 0.95}, 0.955, 0.99, "pass", True),  # 90% of the room used
        ("refusal_rate", {"max_ratio_to_baseline": 1.5}, -0.1, 0.0, "pass", False),  # left out
    ],
)
def test_approaching(
    metric: str, bound: dict, low: float, high: float, verdict: str, near: bool
) -> None:
    assert approaching(result(metric, low, high, verdict), Bound(**bound)) is near


def test_the_entry_says_which_gate_and_its_interval() -> None:
    entry = approach_entry(
        "r", "v1", result("error_rate", 0.0, 0.019), Bound(max_delta_to_baseline=0.02), {}
    )
    assert entry["action"] == "gate_approaching" and entry["gate"] == "error_rate"
    assert entry["reason"] == (
        "error_rate (max_delta_to_baseline 0.02) nears its bound:"
        " candidate - baseline 0.0095 [0, 0.019]"
    )
