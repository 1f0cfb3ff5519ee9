"""Why `rollout eval` pairs its comparisons: the power of McNemar's exact test (both arms answer
the same cases) against unpaired tests of two proportions on the same simulated data.

    python bench/eval_power.py                  # ~6 s on 2 cores
    python bench/eval_power.py --sims 20000 --cases 500 --subset 1.0

Each simulated eval set has `--cases` cases with their own difficulty: the baseline passes case i
with probability p_i ~ Beta(a, b) (mean `--pass-rate`, a + b = `--concentration`), so the arms'
outcomes are correlated through the case (an easy case passes on both, a hard one fails on both).
The candidate is worse by delta on a random subset of the cases (`--subset`, a fraction): there
its pass probability is p_i·(1 - k), with k chosen so that the mean drop over the whole set is
exactly delta in every simulated set (so "power at delta" is the power at that true difference).
Given the case, each arm's answer passes or fails on its own (sampling noise, e.g. temperature).

The event tested is a failure; each test is one-sided ("the candidate fails more often"), at
level alpha:
- McNemar: exact, on the discordant pairs (rollout.stats.paired.mcnemar_worse_p);
- Newcombe paired: the lower end of the paired-difference interval at 1 - 2·alpha above 0
  (rollout.stats.paired.paired_difference), an interval-based gate;
- Fisher: exact, the failures of each arm as independent samples (gate_stats.more_hits_p_value,
  the live regression test);
- pooled z: the textbook unpaired two-proportion z-test.
delta = 0 gives the false-alarm rate (the level each test really has). Same seed for every delta
(common random numbers: the cases and the uniforms behind every answer are the same, only the
candidate's probabilities move), so the columns differ by the tests, not by luck. Prints a
table; never fails.
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
import time
from pathlib import Path
from statistics import NormalDist

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rollout.stats.gate_stats import more_hits_p_value
from rollout.stats.paired import mcnemar_worse_p, paired_difference

TESTS = ("McNemar", "Newcombe paired", "Fisher", "pooled z")


def simulate(args: argparse.Namespace, delta: float) -> np.ndarray:
    """(sims, 4) counts per simulated set: both fail, only baseline fails, only candidate fails,
    neither fails."""
    rng = np.random.default_rng(args.seed)
    sims, n = args.sims, args.cases
    a = args.pass_rate * args.concentration
    p = rng.beta(a, args.concentration - a, size=(sims, n))
    in_subset = np.argsort(rng.random((sims, n)), axis=1) < round(args.subset * n)
    # k per set: the mean drop sum(p_i·k over the subset) / n is exactly delta
    subset_pass = np.where(in_subset, p, 0.0).sum(axis=1, keepdims=True)
    k = np.minimum(1.0, delta * n / subset_pass)
    q = np.where(in_subset, p * (1.0 - k), p)
    base_fail = rng.random((sims, n)) >= p
    cand_fail = rng.random((sims, n)) >= q
    return np.stack(
        [
            (base_fail & cand_fail).sum(axis=1),
            (base_fail & ~cand_fail).sum(axis=1),
            (~base_fail & cand_fail).sum(axis=1),
            (~base_fail & ~cand_fail).sum(axis=1),
        ],
        axis=1,
    )


def pooled_z_p(cand_fail: int, base_fail: int, n: int) -> float:
    """One-sided p of the unpaired pooled two-proportion z-test (candidate fails more)."""
    pooled = (cand_fail + base_fail) / (2 * n)
    if pooled in (0.0, 1.0):
        return 1.0
    z = (cand_fail - base_fail) / n / math.sqrt(pooled * (1 - pooled) * 2 / n)
    return 1.0 - NormalDist().cdf(z)


@functools.cache  # sets repeat their counts: each table is tested once
def rejections(counts: tuple[int, int, int, int], alpha: float) -> tuple[bool, ...]:
    both, only_base, only_cand, neither = counts
    n = sum(counts)
    cand_fail, base_fail = both + only_cand, both + only_base
    interval = paired_difference(
        both=both,
        only_baseline=only_base,
        only_candidate=only_cand,
        neither=neither,
        confidence=1 - 2 * alpha,
    )
    return (
        mcnemar_worse_p(only_cand, only_base) <= alpha,
        interval.low > 0.0,
        more_hits_p_value((cand_fail, n), (base_fail, n)) <= alpha,
        pooled_z_p(cand_fail, base_fail, n) <= alpha,
    )


def cell(counts: np.ndarray, alpha: float) -> list[float]:
    """Share of the simulated sets in which each test says "worse" at level alpha."""
    hits = np.zeros(len(TESTS))
    for row in counts:
        hits += rejections(tuple(int(x) for x in row), alpha)
    return list(hits / len(counts))


def report(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    print(
        f"{args.sims} simulated eval sets per delta, {args.cases} cases; baseline pass "
        f"probability per case ~ Beta({args.pass_rate * args.concentration:g}, "
        f"{(1 - args.pass_rate) * args.concentration:g}) (mean {args.pass_rate:g}); candidate "
        f"worse on {args.subset:.0%} of the cases; seed {args.seed}\n"
    )
    header = "| delta (pp) | alpha | discordant pairs (mean) | " + " | ".join(TESTS) + " |"
    print(header)
    print("|" + "--:|" * (header.count("|") - 1))
    for delta_pp in args.deltas:
        counts = simulate(args, delta_pp / 100)
        discordant = float((counts[:, 1] + counts[:, 2]).mean())
        for alpha in args.alphas:
            shares = " | ".join(f"{s:.3f}" for s in cell(counts, alpha))
            print(f"| {delta_pp:g} | {alpha:g} | {discordant:.1f} | {shares} |")
    print(
        "\ndelta 0: false-alarm rate (at most alpha for a test with the level it claims); "
        "delta > 0: power.\nRerun: " + " ".join(["python bench/eval_power.py", *sys.argv[1:]])
    )
    print(f"Took {time.perf_counter() - started:.1f} s.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sims", type=int, default=20_000, help="simulated sets per delta")
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--pass-rate", type=float, default=0.8, help="baseline mean pass rate")
    parser.add_argument(
        "--concentration", type=float, default=2.0, help="a + b of the Beta (smaller: more spread)"
    )
    parser.add_argument("--subset", type=float, default=0.25, help="share of cases made worse")
    parser.add_argument("--deltas", type=float, nargs="+", default=[0, 2, 5, 10], help="pp")
    parser.add_argument("--alphas", type=float, nargs="+", default=[0.05, 0.01])
    parser.add_argument("--seed", type=int, default=20261201)
    report(parser.parse_args())


if __name__ == "__main__":
    main()
