"""The Neyman-Pearson ceiling `rollout simulate` prints for rate regressions (sim_limit.py)."""

from __future__ import annotations

import pytest

from rollout.simulate.limit import ceiling, rate_changed
from rollout.simulate.streams import BASELINE, SCENARIOS


@pytest.mark.parametrize(
    ("p0", "p1", "n", "false_alarm", "power"),
    [  # scipy.stats.binom, the boundary count randomised, computed once
        (0.01, 0.03, 512, 0.01, 0.86610851415),  # errors +2 pp at 10 requests/s: below 90%
        (0.02, 0.05, 620, 0.0025, 0.92719517209),
    ],
)
def test_the_ceiling_matches_known_values(
    p0: float, p1: float, n: int, false_alarm: float, power: float
) -> None:
    assert ceiling(p0, p1, n, false_alarm) == pytest.approx(power, rel=1e-9)


def test_the_ceiling_grows_with_what_a_rule_may_spend_and_see() -> None:
    assert ceiling(0.01, 0.03, 512, 0.0) == pytest.approx(0.0, abs=1e-12)
    assert ceiling(0.01, 0.03, 512, 1.0) == pytest.approx(1.0)
    assert ceiling(0.01, 0.03, 512, 0.005) < ceiling(0.01, 0.03, 512, 0.01)
    assert ceiling(0.01, 0.03, 512, 0.01) < ceiling(0.01, 0.03, 620, 0.01)


@pytest.mark.parametrize(
    ("name", "rates"),
    [
        ("errors+2pp", (0.01, 0.03)),
        ("refusals+3pp", (0.02, 0.05)),
        ("p95+30%", None),  # no rate: no ceiling of this kind
        ("cost+25%", None),
    ],
)
def test_the_rate_a_scenario_changes(name: str, rates: tuple[float, float] | None) -> None:
    got = rate_changed(BASELINE, SCENARIOS[name])
    assert got == (pytest.approx(rates) if rates else None)
