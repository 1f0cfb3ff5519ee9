"""Can the judge be trusted? Two measurements, each with its interval, each a gate.

- `judge_disagreement`: on a sample of answers a second judge scores too; the share where the
  two disagree (pass/fail differs, or scores differ by more than TOLERANCE), with Wilson's
  interval. Gate: `judge_disagreement: {max: 0.10}`.
- `review_agreement`: people label sampled answers (review.py); the share of labels the judge
  agrees with, with Wilson's interval, and Cohen's kappa (agreement beyond chance) with its
  large-sample interval (Fleiss, Cohen & Everitt 1969, as statsmodels' `cohens_kappa`).
  Gate: `review_agreement: {min: 0.85, min_sample: 50}`.

A judge nobody checked has no data; the gates say so and never pass on it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from rollout.stats.gate_stats import Interval, wilson, z_value

TOLERANCE = 0.2  # two scores further apart than this disagree (0/1 verdicts: any difference)


def disagrees(first: float, second: float, tolerance: float = TOLERANCE) -> bool:
    return abs(first - second) > tolerance


@dataclass(frozen=True, slots=True)
class JudgeReliability:
    """One judge scorer's checks in a run (and its labels file)."""

    scorer: str
    second_judge: bool  # a second judge is configured
    checked: int = 0  # answers both judges scored
    disagreed: int = 0
    reviewing: bool = False  # human review is configured
    reviewed: int = 0  # labels compared with the judge's verdict
    agreed: int = 0
    kappa: Interval | None = None

    def disagreement(self, confidence: float) -> Interval | None:
        return wilson(self.disagreed, self.checked, confidence) if self.checked else None

    def agreement(self, confidence: float) -> Interval | None:
        return wilson(self.agreed, self.reviewed, confidence) if self.reviewed else None


def cohens_kappa(
    first: Sequence[Hashable], second: Sequence[Hashable], confidence: float = 0.95
) -> Interval | None:
    """Cohen's kappa of two raters' labels of the same items, with its interval; None when it
    is undefined (no items, or both raters always said the same one thing)."""
    if len(first) != len(second):
        raise ValueError("both raters must label the same items")
    n = len(first)
    if n == 0:
        return None
    labels = sorted(set(first) | set(second), key=repr)
    cells = Counter(zip(first, second, strict=True))
    p = {(a, b): cells[(a, b)] / n for a in labels for b in labels}
    rows = {a: sum(p[(a, b)] for b in labels) for a in labels}
    cols = {b: sum(p[(a, b)] for a in labels) for b in labels}
    observed = sum(p[(a, a)] for a in labels)
    expected = sum(rows[a] * cols[a] for a in labels)
    if expected >= 1.0:
        return None
    kappa = (observed - expected) / (1 - expected)
    term_a = sum(p[(a, a)] * (1 - (rows[a] + cols[a]) * (1 - kappa)) ** 2 for a in labels)
    off = sum(p[(a, b)] * (cols[a] + rows[b]) ** 2 for a in labels for b in labels if a != b)
    term_b = (1 - kappa) ** 2 * off
    term_c = (kappa - expected * (1 - kappa)) ** 2
    variance = max(0.0, (term_a + term_b - term_c) / (1 - expected) ** 2 / n)
    half = z_value(confidence) * math.sqrt(variance)
    return Interval(kappa, max(-1.0, kappa - half), min(1.0, kappa + half))
