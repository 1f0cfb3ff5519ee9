"""The scorer interface: an answer (or a pair of answers) plus its case -> a named score.

A scorer never raises for a bad answer or a flaky service: it returns a `Score` whose `error`
says what went wrong (`judge_error`, `http_error`...), and such a score is never a pass. The
same interface serves `rollout eval` (offline) and, later, sampled live and shadow answers: it
needs only the case (for live traffic, a case built from the request) and the answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from rollout.eval.answer import Answer
from rollout.eval.dataset import Case

Winner = Literal["first", "second", "tie"]


@dataclass(frozen=True, slots=True)
class Score:
    """One scorer's judgement of one answer. The gate metric `score_<scorer>` reads `metric`."""

    scorer: str  # the configured name: also the criterion the gate names
    value: float | None  # in [0, 1]; None when the answer could not be scored (see `error`)
    passed: bool | None = None  # pass/fail scorers, and judges whose rubric has a threshold
    reason: str = ""
    error: str | None = None  # judge_error, http_error, ...: counted, and never a pass
    second: float | None = None  # a second judge's value on this answer (reliability sample)
    item: str = ""  # the review item: a content hash of the case and the answer (review.py)

    @property
    def metric(self) -> float:
        """The per-answer value gates read: 1/0 for pass/fail, else the score; an error is 0,
        so a judge that cannot judge an answer never lets it through."""
        if self.error is not None or self.value is None:
            return 0.0
        if self.passed is not None:
            return 1.0 if self.passed else 0.0
        return self.value


@dataclass(frozen=True, slots=True)
class Preference:
    """A pairwise judgement: which of two answers is better (`first` as shown to the judge in
    the first order). Position-inconsistent verdicts are ties (judge.py)."""

    scorer: str
    winner: Winner | None  # None: could not judge (see `error`)
    reason: str = ""
    error: str | None = None


class Scorer(Protocol):
    """Every scorer: `score` one answer; `close` whatever it holds open (sessions)."""

    name: str

    async def score(self, case: Case, answer: Answer) -> Score: ...

    async def close(self) -> None: ...


class PairScorer(Scorer, Protocol):
    """A scorer that can also say which of two answers to the same case is better."""

    async def compare(self, case: Case, first: Answer, second: Answer) -> Preference: ...


@dataclass(frozen=True, slots=True)
class Completion:
    """What an LLM provider answered a judge, as the proxy's side parsers read it."""

    text: str | None  # the whole text; None when the call failed
    error: str | None = None  # the error kind (http_500, first_byte_timeout...) or None
    refused: bool = False
    tool_calls: tuple[tuple[str, str], ...] = ()  # (name, arguments as JSON text)
    cost_usd: float | None = None


# (provider name, request body in that provider's API) -> its answer. proxy/eval/judge_client.py
# provides it over the proxy's upstream sessions; tests provide fakes.
Complete = Callable[[str, dict[str, Any]], Awaitable[Completion]]
