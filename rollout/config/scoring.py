"""The config of a rollout's online scoring: which configured scorers judge a sample of its live
answers (per arm) and of its shadow pairs, off the request path, within a budget
(docs/scorers.md, "Online scoring").

    scoring:
      scorers: [safety, no_refusal]    # names from the top-level `scorers:` section
      sample: {baseline: 0.05, candidate: 0.2}   # or one share for both arms
      shadow: 0.1           # of compared shadow pairs: both answers scored
      usd_per_hour: 2       # judge spend cap, over every replica and worker
      calls_per_minute: 120 # judge/http scorer calls admitted per minute, per process

A gate on `score_<name>` for a scorer listed here is judged live by the controller; without
`scoring:` (or for a scorer not listed) it stays an offline gate of `rollout eval`.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, PositiveFloat, PositiveInt, field_validator, model_validator

from rollout.config.strict import Strict


class ArmShares(Strict):
    """Share of each arm's live answers scored, drawn per request."""

    baseline: float = Field(default=0.1, ge=0.0, le=1.0)
    candidate: float = Field(default=0.1, ge=0.0, le=1.0)


class Scoring(Strict):
    scorers: list[str] = Field(min_length=1)
    sample: ArmShares = ArmShares()
    shadow: float = Field(default=0.0, ge=0.0, le=1.0)  # of compared shadow pairs
    usd_per_hour: PositiveFloat | None = None  # judge spend cap; None: no cap
    calls_per_minute: PositiveInt | None = None  # per process; None: no cap
    timeout: PositiveFloat = 60.0  # seconds one answer's scoring may take, all scorers
    max_queued: PositiveInt = 256  # answers waiting to be scored; more are dropped, counted
    max_in_flight: PositiveInt = 8  # answers scored at once
    # Score only while the process uses at most this share of one core (the same reading and
    # window as shadow traffic, proxy/shadow/headroom.py). 1: no check.
    max_cpu: float = Field(default=0.5, gt=0.0, le=1.0)

    @field_validator("sample", mode="before")
    @classmethod
    def _one_share(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return {"baseline": value, "candidate": value}
        return value

    @field_validator("scorers")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        twice = sorted({n for n in value if value.count(n) > 1})
        if twice:
            raise ValueError(f"scorer {twice[0]!r} is listed twice")
        return value

    @model_validator(mode="after")
    def _samples_something(self) -> Scoring:
        if self.sample.baseline == self.sample.candidate == self.shadow == 0.0:
            raise ValueError("every share is 0: nothing would be scored")
        return self

    @property
    def gate_metrics(self) -> frozenset[str]:
        """The `score_<name>` metrics this section measures live."""
        return frozenset(f"score_{name}" for name in self.scorers)
