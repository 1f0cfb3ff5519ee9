"""Score answers off the request path: each scored exchange becomes the `Case` a scorer reads
(the request as the client sent it) and the `Answer` it judges (what the client got, as the
proxy's side parser read it), then every scorer of the rollout scores it, one after another.

Runs in a scoring queue worker, after the answer has gone: nothing here can delay or change it.
A scorer that raises (a bug: scorers return errors as scores) is recorded as an `internal`
error score, counted as 0 like any judge error.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import orjson

from proxy.exchange import Exchange
from rollout.eval.answer import Answer
from rollout.eval.dataset import APIS, Case
from rollout.scorers.base import Score

if TYPE_CHECKING:
    from proxy.scoring.rollout_scoring import RolloutScoring

log = logging.getLogger("llm_rollout.scoring")

SCORABLE_APIS = frozenset(APIS)  # the APIs a scorer can read a conversation from


def scorable(ex: Exchange) -> bool:
    """A parsed request of an API the judges read (not embeddings, not legacy completions)."""
    return ex.api in SCORABLE_APIS and ex.body is not None and ex.payload is not None


def case_of(ex: Exchange) -> Case:
    """The request as the client sent it (not the arm's variant): what the answer answers."""
    request = orjson.loads(ex.body)  # type: ignore[arg-type]
    return Case(id=ex.rollout, api=ex.api, request=request)  # type: ignore[arg-type]


def answer_of(ex: Exchange, error: str | None = None) -> Answer:
    obs = ex.observation
    if obs is None:
        return Answer(text=None, error=error or "no_answer")
    return Answer(
        text=obs.content,
        error=error,
        refused=ex.refusal is not None,
        tool_calls=tuple(obs.tool_calls),
        output_tokens=obs.usage.output_tokens if obs.usage is not None else None,
        json_result=ex.json_result,
    )


async def score_answers(scoring: RolloutScoring, exchanges: Sequence[Exchange]) -> None:
    for ex in exchanges:
        case, answer = case_of(ex), answer_of(ex)
        for name, scorer in scoring.scorers.items():
            try:
                score = await scorer.score(case, answer)
            except Exception as exc:  # a scorer's bug: recorded as an error score, never raised
                log.warning("scorer %s failed on %s", name, scoring.name, exc_info=exc)
                score = Score(name, None, reason=type(exc).__name__, error="internal")
            scoring.record(ex.arm, ex.role, score)
