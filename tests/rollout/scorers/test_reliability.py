"""Judge reliability against reference values: Cohen's kappa and its interval as statsmodels
computes them; disagreement and agreement with Wilson's interval; the labels that count."""

from __future__ import annotations

import random

import numpy as np
import pytest
from statsmodels.stats.inter_rater import cohens_kappa as sm_kappa

from rollout.scorers.reliability import JudgeReliability, cohens_kappa, disagrees
from rollout.scorers.review import Label, agreement_counts, review_pairs
from rollout.stats.gate_stats import wilson


def _table(a: list[str], b: list[str], labels: list[str]) -> np.ndarray:
    return np.array(
        [
            [sum(x == r and y == c for x, y in zip(a, b, strict=True)) for c in labels]
            for r in labels
        ]
    )


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("labels", [["fail", "pass"], ["first", "second", "tie"]])
def test_kappa_and_its_interval_match_statsmodels(seed: int, labels: list[str]) -> None:
    rng = random.Random(seed)
    a = [rng.choice(labels) for _ in range(60)]
    b = [x if rng.random() < 0.7 else rng.choice(labels) for x in a]
    ours = cohens_kappa(a, b, 0.95)
    ref = sm_kappa(_table(a, b, labels))
    assert ours is not None
    assert ours.value == pytest.approx(ref.kappa, abs=1e-12)
    assert ours.low == pytest.approx(max(-1, ref.kappa_low), abs=1e-9)
    assert ours.high == pytest.approx(min(1, ref.kappa_upp), abs=1e-9)


def test_kappa_textbook_example() -> None:
    # 50 items: both yes 20, both no 15, 5 and 10 split: kappa = 0.4 (Wikipedia's example).
    a = ["y"] * 20 + ["y"] * 5 + ["n"] * 10 + ["n"] * 15
    b = ["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15
    kappa = cohens_kappa(a, b)
    assert kappa is not None and kappa.value == pytest.approx(0.4)


def test_kappa_is_undefined_without_variety_or_items() -> None:
    assert cohens_kappa([], []) is None
    assert cohens_kappa(["pass"] * 5, ["pass"] * 5) is None


def test_disagreement_uses_wilsons_interval() -> None:
    judge = JudgeReliability("safety", True, checked=80, disagreed=6)
    assert judge.disagreement(0.95) == wilson(6, 80, 0.95)
    assert JudgeReliability("safety", True).disagreement(0.95) is None
    assert disagrees(1.0, 0.0) and not disagrees(0.7, 0.6) and disagrees(0.9, 0.6)


def _label(item: str, label: str, judge: str = "fp1", judge_label: str = "pass") -> Label:
    return Label("safety", item, judge, judge_label, "ann", "2025-01-01T00:00:00Z", label)


def test_labels_count_for_the_judge_whose_verdict_is_known() -> None:
    labels = [
        _label("a", "pass"),  # same judge, recorded verdict pass: agrees
        _label("b", "fail"),  # same judge, recorded pass: disagrees
        _label("c", "fail", judge="old"),  # another judge, not in this run: left out
        _label("d", "fail", judge="old"),  # another judge, but this run judged d: fail
    ]
    pairs = review_pairs(labels, "safety", "fp1", {"d": "fail"})
    assert pairs == [("pass", "pass"), ("fail", "pass"), ("fail", "fail")]
    agreed, reviewed, kappa = agreement_counts(pairs, 0.95)
    assert (agreed, reviewed) == (2, 3) and kappa is not None
