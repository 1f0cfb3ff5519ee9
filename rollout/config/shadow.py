"""The config of a rollout's shadow traffic: which baseline-served requests are mirrored to the
candidate, how much that may cost, and which pairs are kept for people to read (docs/shadow.md).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, PositiveFloat, PositiveInt, field_validator

from rollout.config.strict import Strict
from rollout.quality.redact import DEFAULT_SECRET_KEYS


class PairSampling(Strict):
    """Compared pairs kept, redacted, in the store for `rollout pairs`."""

    sample: float = Field(default=0.05, ge=0.0, le=1.0)  # share of compared pairs kept
    keep: PositiveInt = 200  # the newest pairs kept per rollout; older ones are dropped


class Redaction(Strict):
    """What is masked in kept pairs. The defaults mask secrets, emails, cards and phones."""

    defaults: bool = True
    patterns: dict[str, str] = {}  # rule name -> regular expression, shown as [NAME]
    secret_keys: list[str] = sorted(DEFAULT_SECRET_KEYS)  # JSON fields masked whole

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, value: dict[str, str]) -> dict[str, str]:
        for name, pattern in value.items():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"pattern {name!r} is not a regular expression: {exc}") from exc
        return value


class Comparison(Strict):
    similarity_min: float = Field(default=0.3, ge=0.0, le=1.0)  # text below this disagrees
    length_ratio_max: float = Field(default=2.0, gt=1.0)  # one side this many times longer


class Shadow(Strict):
    """Mirror a share of the requests the baseline serves to the candidate, off the request path.

    Mirroring runs while the rollout's weight is 0 (the shadow phase, before any user sees the
    candidate) and, with `during_ramp`, also while the candidate serves some users. It stops
    while the kill switch is on and once the rollout is rolled back, aborted or complete.
    """

    share: float = Field(default=0.1, ge=0.0, le=1.0)  # of baseline-served requests
    per: Literal["subject", "request"] = "subject"  # whole subjects, or single requests
    salt: str | None = None  # defaults to "<rollout salt>/shadow": independent of the arms
    noise_share: float = Field(default=0.1, ge=0.0, le=1.0)  # of mirrored: a 2nd baseline call
    during_ramp: bool = False
    timeout: PositiveFloat = 60.0  # seconds a shadow call may take, from its start
    usd_per_hour: PositiveFloat | None = None  # shadow spend cap; None: no cap
    max_queued: PositiveInt = 256  # shadow jobs waiting; more are dropped and counted
    max_in_flight: PositiveInt = 16  # shadow jobs running at once
    # Mirror only while the process uses at most this share of one core: shadow work takes the
    # spare CPU, never the live requests' (proxy/shadow/headroom.py). 1: no check at all.
    max_cpu: float = Field(default=0.5, gt=0.0, le=1.0)
    pairs: PairSampling = PairSampling()
    redact: Redaction = Redaction()
    compare: Comparison = Comparison()
