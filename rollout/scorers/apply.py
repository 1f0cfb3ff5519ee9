"""The configured scorers over an eval run's answers, once both arms have answered.

Bounded concurrency (a fixed pool of workers pulling calls); a failed call is not scored (the
error rate gates it); when `stopped()` says so (the cost cap, counting judge calls too) no new
answer is scored. Then each judge's reliability: the second judge's disagreements in the run,
and the reviewers' labels it can be held to (review.py); and the review queue: a sample of the
judged answers, the same ones on every run.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from rollout.config.scorers import ScorerConfig
from rollout.eval.dataset import Case
from rollout.eval.result import Call
from rollout.scorers.base import Scorer
from rollout.scorers.judge import JudgeScorer, sampled
from rollout.scorers.judge_prompt import answer_text
from rollout.scorers.reliability import JudgeReliability, disagrees
from rollout.scorers.review import Label, agreement_counts, review_pairs, verdict_label


async def score_calls(
    calls: Sequence[Call],
    cases: Sequence[Case],
    scorers: Mapping[str, Scorer],
    concurrency: int = 8,
    stopped: Callable[[], bool] = lambda: False,
) -> list[Call]:
    """The calls with their scores (in the same order)."""
    by_id = {case.id: case for case in cases}
    scored: dict[int, Call] = {}
    jobs = iter([(i, c) for i, c in enumerate(calls) if c.answer.error is None and scorers])

    async def worker(queue: Iterator[tuple[int, Call]]) -> None:
        for index, call in queue:
            if stopped():
                return
            case = by_id[call.case]
            scores = [await s.score(case, call.answer) for s in scorers.values()]
            scored[index] = dataclasses.replace(call, scores=tuple(scores))

    await asyncio.gather(*(worker(jobs) for _ in range(max(1, concurrency))))
    return [scored.get(i, call) for i, call in enumerate(calls)]


def reliability(
    calls: Sequence[Call],
    scorers: Mapping[str, Scorer],
    specs: Mapping[str, ScorerConfig],
    labels: Mapping[str, Sequence[Label]],
    confidence: float,
) -> tuple[JudgeReliability, ...]:
    """Each judge scorer's checks: second-judge disagreements, and agreement with people."""
    found = []
    for name, scorer in scorers.items():
        if not isinstance(scorer, JudgeScorer):
            continue
        scores = [s for c in calls if (s := c.score(name)) is not None and s.error is None]
        twice = [s for s in scores if s.second is not None]
        disagreed = sum(disagrees(s.metric, s.second or 0.0) for s in twice)
        current = {s.item: verdict_label(s.metric) for s in scores}
        fingerprint = scorer.judge.fingerprint
        pairs = review_pairs(labels.get(name, ()), name, fingerprint, current)
        agreed, reviewed, kappa = agreement_counts(pairs, confidence)
        found.append(
            JudgeReliability(
                scorer=name,
                second_judge=scorer.second is not None,
                checked=len(twice),
                disagreed=disagreed,
                reviewing=specs[name].review is not None,
                reviewed=reviewed,
                agreed=agreed,
                kappa=kappa,
            )
        )
    return tuple(found)


def review_queue(
    calls: Sequence[Call],
    cases: Sequence[Case],
    scorers: Mapping[str, Scorer],
    specs: Mapping[str, ScorerConfig],
    redact: Callable[[Any], Any] = lambda value: value,
) -> list[dict[str, Any]]:
    """The judged answers sampled for review (each judge's `review.sample`), redacted."""
    by_id = {case.id: case for case in cases}
    items, seen = [], set()
    for call in calls:
        for score in call.scores:
            spec, scorer = specs.get(score.scorer), scorers.get(score.scorer)
            if spec is None or spec.review is None or not isinstance(scorer, JudgeScorer):
                continue
            if score.error is not None or (score.scorer, score.item) in seen:
                continue
            if not sampled(score.item[::-1], spec.review.sample):
                continue  # reversed: a sample independent of the second judge's
            seen.add((score.scorer, score.item))
            case = by_id[call.case]
            items.append(
                {
                    "scorer": score.scorer,
                    "item": score.item,
                    "judge": scorer.judge.fingerprint,
                    "kind": "single",
                    "case": case.id,
                    "arm": call.arm,
                    "request": redact(case.request),
                    "reference": case.reference,
                    "answer": redact(answer_text(call.answer)),
                    "verdict": {
                        "label": verdict_label(score.metric),
                        "value": score.value,
                        "reason": score.reason,
                    },
                }
            )
    return items
