"""Synthetic metric streams for `rollout simulate`: what the proxies would write into the metric
windows, one 10 s bucket at a time, for a baseline and a candidate arm of known behaviour.

Each bucket is the fields a real window bucket holds ("{arm}:live:requests", ":errors",
":refusals", ":priced", ":cost_usd", the duration `LogHistogram`'s fields, ...), so the simulator
reads them back through the controller's own `arm_snapshot` and judges them with the real
`decide()`. Each arm draws from its own generator, seeded by (seed, run, arm).

The model of one arm (`ArmModel`): requests arrive as a Poisson process at the arm's share of
the traffic; each fails, is refused or succeeds (multinomial); every request has a log-normal
duration; each success is priced, with a log-normal cost. Regressions scale or shift these.
A bursty arm (`burst` > 0) draws each bucket's error and refusal rates around the model's from
a gamma law of mean 1 and variance `burst`, independently per arm: errors cluster in time, and
since assignment is per subject, each arm's subjects bring their own bad spells.

The shadow phase (weight 0, `Mirror`): a share of the baseline's requests is sent again to the
candidate ("candidate:shadow:*") and, on the noise sample, to the baseline a second time
("baseline:shadow:*", as the proxy records a shadow exchange of the baseline arm), both
through the mirror path, which may add errors of its own (its own timeout, queueing, drops)
that the live path does not have.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from rollout.stats.histogram import GAMMA, LogHistogram, representative

BUCKET_SECONDS = 10  # as the proxy's windows (rollout/control/windows.py)
_INV_LOG_GAMMA = 1.0 / math.log(GAMMA)
_ARMS = {"baseline": 0, "candidate": 1}
_SHADOW_ROLES = {"shadow": 2, "noise": 3}  # their own generators: live draws stay the same


@dataclass(frozen=True, slots=True)
class ArmModel:
    """How one arm behaves. Durations: log-normal with this median (seconds) and sigma (of the
    log), so every quantile scales with `latency_median`. Cost: log-normal per priced call."""

    error_rate: float = 0.01
    refusal_rate: float = 0.02
    latency_median: float = 1.2
    latency_sigma: float = 0.5
    cost_median: float = 0.0015  # USD per call
    cost_sigma: float = 0.6
    burst: float = 0.0  # variance of a bucket's rate multiplier (0: plain multinomial)

    def quantile(self, q: float) -> float:
        """The true q-quantile of the duration."""
        from statistics import NormalDist

        return self.latency_median * math.exp(self.latency_sigma * NormalDist().inv_cdf(q))

    @property
    def cost_per_1k(self) -> float:
        """True USD per 1000 priced calls (the log-normal's mean, times 1000)."""
        return 1000.0 * self.cost_median * math.exp(self.cost_sigma**2 / 2.0)


BASELINE = ArmModel()


@dataclass(frozen=True, slots=True)
class Scenario:
    """A named candidate against the baseline. kind: "aa" (the same arm), "regression" (worse than
    a gate allows: should be rolled back), "at_bound" (exactly as bad as a gate allows) or
    "within" (half as bad as a gate allows: the plan accepts it, so a rollback is a false alarm
    with respect to the bound; run over full ramps like A/A)."""

    name: str
    candidate: ArmModel
    kind: Literal["aa", "regression", "at_bound", "within"]
    description: str = ""


def _scenarios(base: ArmModel) -> dict[str, Scenario]:
    def errors(pp: float) -> ArmModel:
        return replace(base, error_rate=base.error_rate + pp / 100.0)

    def slower(factor: float) -> ArmModel:
        return replace(base, latency_median=base.latency_median * factor)

    return {
        s.name: s
        for s in (
            Scenario("aa", base, "aa", "candidate = baseline"),
            Scenario(
                "aa-bursty",
                replace(base, burst=1.0),
                "aa",
                "candidate = baseline, both arms' error and refusal rates over-dispersed",
            ),
            Scenario("errors+2pp", errors(2), "regression", "error rate +2 pp"),
            Scenario(
                "refusals+3pp",
                replace(base, refusal_rate=base.refusal_rate + 0.03),
                "regression",
                "refusal rate +3 pp",
            ),
            Scenario("p95+30%", slower(1.3), "regression", "every latency quantile x1.3"),
            Scenario(
                "cost+25%",
                replace(base, cost_median=base.cost_median * 1.25),
                "regression",
                "cost per call x1.25",
            ),
            Scenario("errors+20pp", errors(20), "regression", "error rate +20 pp"),
            Scenario("errors+1pp", errors(1), "at_bound", "error rate +1 pp: at the bound"),
            Scenario("p95+20%", slower(1.2), "at_bound", "latency x1.2: at the bound"),
            Scenario("errors+0.5pp", errors(0.5), "within", "error rate +0.5 pp: within the bound"),
            Scenario("p95+10%", slower(1.1), "within", "latency x1.1: within the bound"),
        )
    }


SCENARIOS: dict[str, Scenario] = _scenarios(BASELINE)


def _histogram(durations: np.ndarray) -> LogHistogram:
    """The LogHistogram of these values, binned in one numpy pass (same buckets as .add)."""
    hist = LogHistogram()
    if durations.size:
        index, counts = np.unique(np.ceil(np.log(durations) * _INV_LOG_GAMMA), return_counts=True)
        for i, n in zip(index.tolist(), counts.tolist(), strict=True):
            hist.add(representative(int(i)), int(n))
    return hist


def arm_bucket(
    model: ArmModel,
    rate: float,
    rng: np.random.Generator,
    arm: str,
    role: str = "live",
    extra_errors: float = 0.0,
) -> dict:
    """One bucket of one arm receiving `rate` requests/s: its window fields. `extra_errors`:
    the path's own failures on top of the model's (the mirror path's, for shadow roles)."""
    requests = int(rng.poisson(rate * BUCKET_SECONDS)) if rate > 0 else 0
    if requests == 0:
        return {}
    error_rate, refusal_rate = model.error_rate, model.refusal_rate
    if model.burst > 0:
        shape = 1.0 / model.burst
        error_rate *= float(rng.gamma(shape, model.burst))
        refusal_rate *= float(rng.gamma(shape, model.burst))
    error_rate = min(1.0, error_rate + extra_errors)
    refusal_rate = min(1.0 - error_rate, refusal_rate)
    ok_rate = max(0.0, 1.0 - error_rate - refusal_rate)
    errors, refusals, ok = rng.multinomial(requests, [error_rate, refusal_rate, ok_rate]).tolist()
    durations = rng.lognormal(math.log(model.latency_median), model.latency_sigma, requests)
    priced = refusals + ok  # a refused call still used (and paid for) tokens
    cost = float(rng.lognormal(math.log(model.cost_median), model.cost_sigma, priced).sum())
    prefix = f"{arm}:{role}"
    fields: dict[str, float] = {
        f"{prefix}:requests": requests,
        f"{prefix}:errors": errors,
        f"{prefix}:errors:upstream_5xx": errors,
        f"{prefix}:refusals": refusals,
        f"{prefix}:priced": priced,
        f"{prefix}:cost_usd": cost,
    }
    fields.update(_histogram(durations).to_fields(f"{prefix}:duration"))
    return fields


@dataclass(frozen=True, slots=True)
class Mirror:
    """The shadow phase's traffic: `share` of the baseline's requests mirrored to the candidate,
    `noise_share` of those also sent to the baseline again; `extra_errors` fail on the mirror
    path itself (0: the path is as healthy as the live one)."""

    share: float = 0.1
    noise_share: float = 1.0
    extra_errors: float = 0.0


@dataclass(frozen=True, slots=True)
class Stream:
    """The traffic of one run. Each replay reads it through its own `Cursor`, bucket by bucket,
    with one generator per arm seeded by (seed..., arm): two rules replaying the same stream
    see the same requests for as long as they keep the same weights."""

    baseline: ArmModel
    candidate: ArmModel
    rate: float  # candidate-eligible requests/s over both arms
    seed: tuple[int, ...]  # e.g. (seed, run)

    def cursor(self) -> Cursor:
        return Cursor(self)


class Cursor:
    def __init__(self, stream: Stream) -> None:
        self.stream = stream
        self._rngs = {arm: np.random.default_rng([*stream.seed, i]) for arm, i in _ARMS.items()}

    def next_bucket(self, weight: float, mirror: Mirror | None = None) -> dict[str, float]:
        """The next bucket's fields with the candidate at `weight` (a fraction) of the traffic,
        and with `mirror`, the shadow calls of the baseline's requests."""
        s, rngs = self.stream, self._rngs
        fields = arm_bucket(s.baseline, s.rate * (1.0 - weight), rngs["baseline"], "baseline")
        fields.update(arm_bucket(s.candidate, s.rate * weight, rngs["candidate"], "candidate"))
        if mirror is not None and mirror.share > 0:
            if "shadow" not in rngs:
                for role, i in _SHADOW_ROLES.items():
                    rngs[role] = np.random.default_rng([*s.seed, i])
            mirrored, extra = s.rate * (1.0 - weight) * mirror.share, mirror.extra_errors
            shadow = arm_bucket(s.candidate, mirrored, rngs["shadow"], "candidate", "shadow", extra)
            noise = mirrored * mirror.noise_share
            fields.update(shadow)
            fields.update(arm_bucket(s.baseline, noise, rngs["noise"], "baseline", "shadow", extra))
        return fields
