"""The checks the project already has, as scorers: pass (1) or fail (0) with the reason.

    {kind: builtin, expect: {refused: false}}            # any eval `expect` kind, on every case
    {kind: builtin, expect: {max_output_tokens: 300}}    # length
    {kind: builtin, expect: {tool_called: {name: lookup_order}}}
    {kind: builtin, check: json_valid}                   # the live json_validity verdict
    {kind: builtin, check: case_expect}                  # the case's own expectations

`expect` is validated as a dataset line's is (rollout/eval/expect.py), so the same words mean the
same checks in a dataset and in a scorer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from rollout.eval.answer import Answer
from rollout.eval.dataset import Case
from rollout.eval.expect import Expect, check_case
from rollout.quality.json_validity import VALID, check_json
from rollout.scorers.base import Score

Check = Callable[[Case, Answer], list[tuple[bool, str]]]
CHECKS = ("case_expect", "json_valid")


class BuiltinScorer:
    def __init__(self, name: str, check: Check) -> None:
        self.name, self.check = name, check

    async def score(self, case: Case, answer: Answer) -> Score:
        results = self.check(case, answer)
        if not results:  # nothing to check on this case (no expectations): no score
            return Score(self.name, None, reason="nothing to check")
        failed = [reason for ok, reason in results if not ok]
        return Score(self.name, 0.0 if failed else 1.0, passed=not failed, reason="; ".join(failed))

    async def close(self) -> None:
        return None


def expect_check(expect: Expect) -> Check:
    return lambda _case, answer: [(r.passed, r.reason) for r in check_case(expect, answer)]


def case_expect(case: Case, answer: Answer) -> list[tuple[bool, str]]:
    return [(r.passed, r.reason) for r in check_case(case.expect, answer)]


def json_valid(_case: Case, answer: Answer) -> list[tuple[bool, str]]:
    """The proxy's verdict when the request asked for JSON, else whether the text is JSON."""
    verdict = answer.json_result or check_json(answer.text or "", None)
    return [(verdict == VALID, "" if verdict == VALID else f"JSON: {verdict}")]


def builtin_check(check: str | None, expect: dict[str, Any] | None) -> Check:
    """The check a builtin scorer's config names; ValueError for an invalid `expect`."""
    if expect is not None:
        try:
            return expect_check(Expect.model_validate(expect))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            message = err["msg"].removeprefix("Value error, ")
            raise ValueError(f"{where}: {message}" if where else message) from None
    return case_expect if check == "case_expect" else json_valid
