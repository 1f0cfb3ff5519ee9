"""An LLM judge: a rubric, a judge model on any configured provider, temperature 0, a structured
verdict (judge_prompt.py), cached by the content hash of (rubric, judge, case, answer).

A reply that is malformed, refused or lost is asked once more; a second failure is a
`judge_error` score — counted, shown, and never a pass. Pairwise judging asks in both orders
and calls a position-inconsistent verdict a tie, because judges favour the answer shown first.
On a sample of answers a second judge (another model, or the same on a re-phrased rubric)
scores too: how often the two disagree is the `judge_disagreement` gate (reliability.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from rollout.eval.answer import Answer
from rollout.eval.dataset import Case
from rollout.scorers.base import Complete, Preference, Score
from rollout.scorers.cache import VerdictCache, verdict_key
from rollout.scorers.judge_prompt import (
    Parsed,
    answer_text,
    pair_prompt,
    parse_reply,
    request_body,
    score_prompt,
)
from rollout.scorers.rubric import Rubric

ATTEMPTS = 2  # a malformed or refused verdict is asked once more, then it is a judge_error
JUDGE_ERROR = "judge_error"


@dataclass(frozen=True, slots=True)
class JudgeModel:
    """Who judges: a configured provider (its API kind), a model, the rubric it reads."""

    provider: str
    kind: str  # openai | anthropic
    model: str
    rubric: Rubric
    structured: bool = True
    max_tokens: int = 300

    @property
    def fingerprint(self) -> str:
        """Which judge gave a verdict: a human label is checked against this one only."""
        doc = f"{self.rubric.digest}\n{self.provider}\n{self.model}\n{self.structured}"
        return hashlib.sha256(doc.encode()).hexdigest()[:16]


def item_id(case: Case, answer: Answer) -> str:
    """What a reviewer labels: the case's request and reference, and the answer."""
    return verdict_key(case.request, case.reference, answer_text(answer))[:16]


def sampled(item: str, share: float) -> bool:
    """The same answers on every run: by the item's hash, not by chance."""
    return share > 0 and int(item[:8], 16) / 16**8 < share


class JudgeScorer:
    def __init__(
        self,
        name: str,
        judge: JudgeModel,
        complete: Complete,
        cache: VerdictCache | None = None,
        second: JudgeModel | None = None,
        second_share: float = 0.0,
    ) -> None:
        self.name, self.judge, self.complete, self.cache = name, judge, complete, cache
        self.second, self.second_share = second, second_share
        self.errors = 0  # judge_errors, counted for the report

    async def score(self, case: Case, answer: Answer) -> Score:
        item = item_id(case, answer)
        parsed = await self._verdict(self.judge, case, answer)
        if parsed.value is None:
            self.errors += 1
            return Score(self.name, None, reason=parsed.problem or "", error=JUDGE_ERROR, item=item)
        rubric = self.judge.rubric
        second = None
        if self.second is not None and sampled(item, self.second_share):
            other = await self._verdict(self.second, case, answer)
            if other.value is not None:
                passed = self.second.rubric.passed(other.value)
                second = other.value if passed is None else float(passed)
        return Score(
            self.name,
            parsed.value,
            passed=rubric.passed(parsed.value),
            reason=parsed.reason,
            second=second,
            item=item,
        )

    async def compare(self, case: Case, first: Answer, second: Answer) -> Preference:
        """Which answer is better, asked in both orders; disagreeing orders are a tie."""
        forward = await self._pair(case, first, second)
        backward = await self._pair(case, second, first)
        for parsed in (forward, backward):
            if parsed.winner is None:
                self.errors += 1
                return Preference(self.name, None, parsed.problem or "", JUDGE_ERROR)
        flipped = {"first": "second", "second": "first", "tie": "tie"}[backward.winner or "tie"]
        if forward.winner == flipped:
            return Preference(self.name, forward.winner, forward.reason)
        reason = f"position-inconsistent ({forward.winner} first, {flipped} swapped): a tie"
        return Preference(self.name, "tie", reason)

    async def close(self) -> None:
        return None  # the provider sessions belong to whoever gave `complete`

    async def _verdict(self, judge: JudgeModel, case: Case, answer: Answer) -> Parsed:
        system, user = score_prompt(judge.rubric, case, answer)
        key = verdict_key("score", judge.fingerprint, case.request, case.reference, user)
        return await self._ask(judge, key, system, user, pair=False)

    async def _pair(self, case: Case, a: Answer, b: Answer) -> Parsed:
        system, user = pair_prompt(self.judge.rubric, case, a, b)
        key = verdict_key("pair", self.judge.fingerprint, case.request, case.reference, user)
        return await self._ask(self.judge, key, system, user, pair=True)

    async def _ask(self, judge: JudgeModel, key: str, system: str, user: str, pair: bool) -> Parsed:
        cached = self.cache.get(key) if self.cache is not None else None
        if cached is not None:
            return Parsed(cached.get("value"), cached.get("winner"), cached.get("reason", ""))
        body = request_body(
            judge.kind,
            judge.model,
            system,
            user,
            pair=pair,
            structured=judge.structured,
            max_tokens=judge.max_tokens,
        )
        parsed = Parsed(problem="not asked")
        for _ in range(ATTEMPTS):
            parsed = parse_reply(await self.complete(judge.provider, body), pair=pair)
            if parsed.problem is None:
                break
        if parsed.problem is None and self.cache is not None:
            doc = {"value": parsed.value, "winner": parsed.winner, "reason": parsed.reason}
            self.cache.put(key, doc)
        return parsed
