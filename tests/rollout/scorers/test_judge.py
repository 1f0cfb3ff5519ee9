"""The judge with a scripted provider: retries once, then judge_error (never a pass, never a
crash); the verdict cache; the second judge on a sample; pairwise position bias as ties."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from rollout.eval.answer import Answer
from rollout.eval.dataset import Case
from rollout.scorers.base import Completion
from rollout.scorers.cache import VerdictCache
from rollout.scorers.judge import JUDGE_ERROR, JudgeModel, JudgeScorer, sampled
from rollout.scorers.rubric import parse_rubric

RUBRIC = parse_rubric("---\ncriterion: safety\nscale: pass_fail\n---\nScore 1 when safe, else 0.")
CASE = Case("c1", "openai.chat", {"model": "m", "messages": [{"role": "user", "content": "Q"}]})
JUDGE = JudgeModel("fake", "openai", "judge-a", RUBRIC)


class Script:
    """Answers the judge's calls in turn; then repeats the last answer."""

    def __init__(self, *replies: Completion) -> None:
        self.replies, self.bodies = list(replies), []

    async def __call__(self, provider: str, body: dict[str, Any]) -> Completion:
        self.bodies.append(body)
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]


def _score(value: float) -> Completion:
    return Completion(orjson.dumps({"score": value, "reason": "r"}).decode())


async def test_a_verdict_becomes_a_score_with_pass_fail_from_the_rubric() -> None:
    script = Script(_score(0.0))
    score = await JudgeScorer("safety", JUDGE, script).score(CASE, Answer("A", None))
    assert (score.value, score.passed, score.error, score.metric) == (0.0, False, None, 0.0)
    assert script.bodies[0]["temperature"] == 0 and len(script.bodies) == 1


async def test_malformed_then_good_is_retried_once() -> None:
    script = Script(Completion("hmm, fine I guess"), _score(1.0))
    score = await JudgeScorer("safety", JUDGE, script).score(CASE, Answer("A", None))
    assert score.passed is True and len(script.bodies) == 2


async def test_twice_malformed_or_refused_is_a_judge_error_never_a_pass() -> None:
    for bad in (
        Completion("no idea"),
        Completion("I can't help", refused=True),
        Completion(None, "total_timeout"),
    ):
        scorer = JudgeScorer("safety", JUDGE, Script(bad))
        score = await scorer.score(CASE, Answer("A", None))
        assert (score.error, score.value, score.metric, scorer.errors) == (
            JUDGE_ERROR,
            None,
            0.0,
            1,
        )


async def test_verdicts_are_cached_by_content_and_errors_are_not(tmp_path: Path) -> None:
    cache = VerdictCache(tmp_path)
    first = Script(_score(1.0))
    await JudgeScorer("safety", JUDGE, first, cache).score(CASE, Answer("A", None))
    again = Script(_score(0.0))
    score = await JudgeScorer("safety", JUDGE, again, cache).score(CASE, Answer("A", None))
    assert score.passed is True and again.bodies == []  # from the cache
    await JudgeScorer("safety", JUDGE, again, cache).score(CASE, Answer("B", None))
    assert len(again.bodies) == 1  # another answer: asked
    other_model = JudgeModel("fake", "openai", "judge-b", RUBRIC)
    await JudgeScorer("safety", other_model, again, cache).score(CASE, Answer("A", None))
    assert len(again.bodies) == 2  # another judge: asked
    broken = Script(Completion("??"))
    await JudgeScorer("safety", JUDGE, broken, cache).score(CASE, Answer("C", None))
    fixed = Script(_score(1.0))
    await JudgeScorer("safety", JUDGE, fixed, cache).score(CASE, Answer("C", None))
    assert len(fixed.bodies) == 1  # the judge_error was not kept


async def test_the_second_judge_scores_the_same_sampled_answers() -> None:
    second = JudgeModel("fake", "openai", "judge-b", RUBRIC)
    scorer = JudgeScorer("safety", JUDGE, Script(_score(1.0)), second=second, second_share=0.5)
    scores = [await scorer.score(CASE, Answer(f"answer {i}", None)) for i in range(200)]
    twice = [s for s in scores if s.second is not None]
    assert 70 < len(twice) < 130 and all(sampled(s.item, 0.5) for s in twice)
    assert all(s.second == 1.0 for s in twice)


def _winner(letter: str) -> Completion:
    return Completion(orjson.dumps({"winner": letter, "reason": "r"}).decode())


async def test_pairwise_asks_both_orders_and_a_position_bias_is_a_tie() -> None:
    consistent = Script(_winner("A"), _winner("B"))  # first wins, then (swapped) still first
    pref = await JudgeScorer("safety", JUDGE, consistent).compare(
        CASE, Answer("x", None), Answer("y", None)
    )
    assert pref.winner == "first" and len(consistent.bodies) == 2
    biased = Script(_winner("A"))  # always whatever is shown first
    pref = await JudgeScorer("safety", JUDGE, biased).compare(
        CASE, Answer("x", None), Answer("y", None)
    )
    assert pref.winner == "tie" and "position-inconsistent" in pref.reason
    broken = Script(Completion("?"))
    pref = await JudgeScorer("safety", JUDGE, broken).compare(
        CASE, Answer("x", None), Answer("y", None)
    )
    assert (pref.winner, pref.error) == (None, JUDGE_ERROR)
