"""The most any rule could catch: the ceiling `rollout simulate` prints next to a regression of a
rate (errors, refusals).

Whatever a rule does, what it knows when a regression must be rolled back (2 intervals after the
candidate's 500th request) is the candidate's first n requests. By Neyman and Pearson's lemma the
most powerful test of "as good as the baseline" against "this much worse" on them, at a given
false-alarm rate, counts the bad outcomes: fail at k or more (and at exactly k with the chance
that spends the rate exactly). Its power is the ceiling for every rule, with the baseline's rate
known exactly (a real rule only estimates it) and the whole A/A budget spent on this one gate at
this one moment (a real rule shares it among its gates and looks). A row whose target is above
its ceiling cannot be met by any rule that also keeps A/A false rollbacks within that budget.
"""

from __future__ import annotations

import math
from statistics import NormalDist

from rollout.simulate.streams import ArmModel, Scenario
from rollout.stats.gate_stats import log_choose


def rate_changed(base: ArmModel, scenario: Scenario) -> tuple[float, float] | None:
    """(baseline, candidate) of the one rate the scenario changes, or None (latency, cost)."""
    cand = scenario.candidate
    for name in ("error_rate", "refusal_rate"):
        if getattr(cand, name) != getattr(base, name):
            return getattr(base, name), getattr(cand, name)
    return None


def ceiling(p0: float, p1: float, n: int, false_alarm: float) -> float:
    """The power of the most powerful test of rate p0 against p1 > p0 on n trials, at a false
    alarm of exactly `false_alarm` (Neyman-Pearson, randomised at the boundary count)."""
    pmf0, pmf1 = binomial_pmf(n, p0), binomial_pmf(n, p1)
    spent = power = 0.0
    for k in range(n, -1, -1):  # fail on the counts least likely under p0 first
        if spent + pmf0[k] > false_alarm:
            share = (false_alarm - spent) / pmf0[k] if pmf0[k] > 0 else 0.0
            return power + share * pmf1[k]
        spent += pmf0[k]
        power += pmf1[k]
    return power


def binomial_pmf(n: int, p: float) -> list[float]:
    """P(X = k) for k = 0..n, X ~ Binomial(n, p), 0 < p < 1."""
    log_p, log_q = math.log(p), math.log1p(-p)
    return [math.exp(log_choose(n, k) + k * log_p + (n - k) * log_q) for k in range(n + 1)]


def two_sample_requests(p0: float, p1: float, share: float, power: float = 0.95) -> int:
    """Requests on each side for a one-sided test of p1 against a reference arm of equal size
    (the noise arm) to have `power` at `share` (normal approximation): the floor of a test
    against the noise arm, where the known-baseline floor is `requests_for_power`."""
    z = NormalDist().inv_cdf
    spread = p0 * (1 - p0) + p1 * (1 - p1)
    return math.ceil((z(1 - share) + z(power)) ** 2 * spread / (p1 - p0) ** 2)


def two_sample_power(p0: float, p1: float, n: int, share: float) -> float:
    """The power of that test with `n` requests on each side (normal approximation)."""
    spread = math.sqrt((p0 * (1 - p0) + p1 * (1 - p1)) / n)
    return NormalDist().cdf((p1 - p0) / spread - NormalDist().inv_cdf(1 - share))
