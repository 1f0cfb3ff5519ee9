from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollout.quality.compare import SideResult, compare, disagreements
from rollout.quality.noise import NoiseReport, Tally, report


def tally(**counts: tuple[int, int]) -> Tally:
    """tally(text=(disagree, pairs), ...)"""
    t = Tally()
    for name, (hits, n) in counts.items():
        t.pairs[name] = n
        t.disagree[name] = hits
    return t


def test_add_counts_applicable_comparators_only() -> None:
    t = Tally()
    t.add({"error": False, "text": True})
    t.add({"error": True})
    t.add({"error": False, "text": False, "json": True})
    assert t.counts("error") == (1, 3)
    assert t.counts("text") == (1, 2)
    assert t.counts("json") == (1, 1)
    assert t.counts("tools") == (0, 0)


def test_fields_round_trip_through_a_prefix() -> None:
    t = tally(text=(3, 10), refusal=(0, 10))
    fields = {f"candidate:shadow:{k}": v for k, v in t.to_fields().items()}
    fields["baseline:noise:pairs:text"] = 99  # another prefix: not read
    back = Tally.from_fields(fields, "candidate:shadow:")
    assert back.counts("text") == (3, 10)
    assert back.counts("refusal") == (0, 10)


def test_newcombe_interval_matches_the_published_example() -> None:
    # Newcombe (1998), Statistics in Medicine 17:873, example (a): 56/70 vs 48/80,
    # method 10 gives 0.0524 to 0.3339 for the difference.
    r = report(tally(x=(48, 80)), tally(x=(56, 70)))["x"]
    assert r.excess is not None
    assert r.excess.value == pytest.approx(0.2)
    assert r.excess.low == pytest.approx(0.0524, abs=5e-4)
    assert r.excess.high == pytest.approx(0.3339, abs=5e-4)


@pytest.mark.parametrize(
    ("noise", "candidate", "has_noise", "has_candidate"),
    [
        (tally(text=(5, 50)), tally(text=(10, 50)), True, True),
        (tally(), tally(text=(10, 50)), False, True),  # no noise sample yet: no excess
        (tally(text=(5, 50)), tally(), True, False),
    ],
)
def test_missing_sides_give_no_excess(
    noise: Tally, candidate: Tally, has_noise: bool, has_candidate: bool
) -> None:
    r = report(noise, candidate)["text"]
    assert (r.noise is not None) == has_noise
    assert (r.candidate is not None) == has_candidate
    assert (r.excess is not None) == (has_noise and has_candidate)


def _answer(rng: random.Random, odd_rate: float) -> SideResult:
    """A model that gives its usual answer, or with probability odd_rate a one-off answer that
    shares no word bigram with any other answer (so two odd answers disagree too)."""
    if rng.random() < odd_rate:
        return SideResult(text=f"odd{rng.randrange(10**12)} reply", output_chars=20)
    return SideResult(text="the usual answer to the question", output_chars=32)


def _simulate(seed: int, pairs: int, cand_odd: float) -> dict[str, NoiseReport]:
    rng = random.Random(seed)
    noise, cand = Tally(), Tally()
    for _ in range(pairs):
        primary = _answer(rng, BASE_ODD)
        noise.add(disagreements(compare(primary, _answer(rng, BASE_ODD))))
        cand.add(disagreements(compare(primary, _answer(rng, cand_odd))))
    return report(noise, cand)


# Odd-answer rates chosen so that the disagreement rates are exactly 10% and 25%:
# baseline vs baseline:  1 - (1-p)^2     = 0.10  ->  p = 1 - sqrt(0.9)
# candidate vs baseline: 1 - (1-p)(1-q)  = 0.25  ->  q = 1 - 0.75 / (1-p)
BASE_ODD = 1 - 0.9**0.5
CAND_ODD = 1 - 0.75 / (1 - BASE_ODD)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_recovers_injected_noise_and_excess(seed: int) -> None:
    r = _simulate(seed, 20_000, CAND_ODD)["text"]
    assert r.noise is not None and r.candidate is not None and r.excess is not None
    # Tolerances are about 3 standard errors at 20,000 pairs (0.002 to 0.004).
    assert r.noise.value == pytest.approx(0.10, abs=0.008)
    assert r.candidate.value == pytest.approx(0.25, abs=0.012)
    assert r.excess.value == pytest.approx(0.15, abs=0.012)
    assert r.excess.low <= 0.15 <= r.excess.high
    assert r.excess.high - r.excess.low < 0.03


def test_a_candidate_like_the_baseline_shows_no_excess() -> None:
    r = _simulate(11, 5_000, BASE_ODD)["text"]
    assert r.excess is not None
    assert r.excess.low < 0 < r.excess.high


@given(
    st.integers(1, 500).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
    st.integers(1, 500).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
)
def test_excess_interval_brackets_the_point_estimate(
    n: tuple[int, int], c: tuple[int, int]
) -> None:
    r = report(tally(x=n), tally(x=c))["x"]
    assert r.excess is not None
    assert -1.0 <= r.excess.low <= r.excess.value <= r.excess.high <= 1.0
