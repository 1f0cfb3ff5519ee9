"""What one eval run produced: every call's answer and measurements, and how the run ended."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rollout.eval.answer import Answer

if TYPE_CHECKING:
    from rollout.eval.expect import CheckResult
    from rollout.scorers.base import Score
    from rollout.scorers.reliability import JudgeReliability

ARMS = ("baseline", "candidate")


@dataclass(frozen=True, slots=True)
class Call:
    """One arm's answer to one case (one of `repeat` asks), as the proxy observed it."""

    case: str
    arm: str
    repeat: int
    answer: Answer
    status: int | None
    duration: float | None  # seconds, as the live latency metric measures it
    ttft: float | None  # streams only, as live TTFT
    cost_usd: float | None  # None: unpriced model or no usage
    input_tokens: int | None
    model: str | None
    cached: bool = False
    attempts: int = 1
    checks: tuple[CheckResult, ...] = ()
    scores: tuple[Score, ...] = ()  # the configured scorers' scores of this answer

    def score(self, scorer: str) -> Score | None:
        return next((s for s in self.scores if s.scorer == scorer), None)

    @property
    def passed(self) -> bool | None:
        """Every expectation held; None when the case has none."""
        return all(c.passed for c in self.checks) if self.checks else None


@dataclass(slots=True)
class EvalRun:
    rollout: str
    version: str  # the candidate's version: what a recorded result is evidence for
    dataset: str  # its path
    dataset_digest: str
    cases: int
    repeat: int
    calls: list[Call] = field(default_factory=list)
    estimate_usd: float | None = None  # before the first call (None: some model unpriced)
    spent_usd: float = 0.0  # new spend (cache hits are free)
    stopped: str | None = None  # why the run ended early: it could not evaluate
    cache_hits: int = 0
    seconds: float = 0.0
    reliability: tuple[JudgeReliability, ...] = ()  # each judge scorer's checks (scorers)

    def of(self, arm: str) -> list[Call]:
        return [c for c in self.calls if c.arm == arm]
