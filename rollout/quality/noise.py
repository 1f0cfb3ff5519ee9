"""How much of the candidate's disagreement with the baseline is just the baseline's own
randomness (Diffy's idea, applied to non-deterministic LLM output). Pure.

Two tallies, per comparator of rollout/quality/compare.py:
- noise: baseline vs a second baseline call on a sample of requests — how often the baseline
  disagrees with itself;
- candidate: candidate (shadow) vs baseline (primary) — how often the candidate disagrees.

For each comparator the report gives both rates with Wilson intervals, and the excess
(candidate rate - noise rate) with Newcombe's hybrid score interval for a difference of two
proportions (rollout/gate_stats.mover_difference with ratio 1: good coverage near 0, where these
rates live, unlike the plain normal approximation). An excess whose interval lies above 0 is a
difference the baseline's randomness does not explain; a negative excess means the candidate
agrees with the baseline more than the baseline agrees with itself (e.g. a more deterministic
model).

The interval treats the two tallies as independent samples. They are not quite: a noise pair
and a candidate pair usually share the same primary answer. That correlation is positive (an odd
primary answer makes both sides disagree), which makes the true variance of the difference
smaller, so the independent interval errs on the wide, cautious side.

Tallies travel through the store's metric windows as counts ("pairs:{comparator}",
"disagree:{comparator}"), which add across replicas and time buckets like every other field.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from rollout.stats.gate_stats import Interval, mover_difference, wilson


@dataclass(slots=True)
class Tally:
    """Per comparator: pairs where it applied, and of those, pairs that disagreed."""

    pairs: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    disagree: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, disagreements: Mapping[str, bool]) -> None:
        """Count one pair, given `rollout.quality.compare.disagreements` of it."""
        for name, differs in disagreements.items():
            self.pairs[name] += 1
            if differs:
                self.disagree[name] += 1

    def counts(self, name: str) -> tuple[int, int]:
        """(disagreeing pairs, pairs) for one comparator."""
        return self.disagree.get(name, 0), self.pairs.get(name, 0)

    def to_fields(self) -> dict[str, float]:
        """Metric-window fields; the caller prefixes them with "{arm}:{role}:"."""
        out: dict[str, float] = {}
        for name, n in self.pairs.items():
            out[f"pairs:{name}"] = n
            out[f"disagree:{name}"] = self.disagree.get(name, 0)
        return out

    @classmethod
    def from_fields(cls, fields: Mapping[str, float], prefix: str = "") -> Tally:
        """Read back what `to_fields` wrote (summed over buckets), under `prefix`."""
        tally = cls()
        for key, value in fields.items():
            if not key.startswith(prefix):
                continue
            kind, _, name = key[len(prefix) :].partition(":")
            if kind == "pairs":
                tally.pairs[name] += int(value)
            elif kind == "disagree":
                tally.disagree[name] += int(value)
        return tally


@dataclass(frozen=True, slots=True)
class NoiseReport:
    """One comparator. A rate is None when there were no pairs to estimate it from."""

    comparator: str
    noise_pairs: int
    candidate_pairs: int
    noise: Interval | None  # the baseline's disagreement with itself
    candidate: Interval | None  # the candidate's disagreement with the baseline
    excess: Interval | None  # candidate - noise; needs both


def _rate(hits: int, trials: int, confidence: float) -> Interval | None:
    return wilson(hits, trials, confidence) if trials > 0 else None


def _difference(c: tuple[int, int], n: tuple[int, int], confidence: float) -> Interval:
    return mover_difference(c, n, confidence)


def report(noise: Tally, candidate: Tally, confidence: float = 0.95) -> dict[str, NoiseReport]:
    """Every comparator seen in either tally, with its rates and the excess above noise."""
    out: dict[str, NoiseReport] = {}
    for name in sorted(noise.pairs.keys() | candidate.pairs.keys()):
        n = noise.counts(name)
        c = candidate.counts(name)
        excess = _difference(c, n, confidence) if n[1] > 0 and c[1] > 0 else None
        out[name] = NoiseReport(
            comparator=name,
            noise_pairs=n[1],
            candidate_pairs=c[1],
            noise=_rate(*n, confidence),
            candidate=_rate(*c, confidence),
            excess=excess,
        )
    return out
