"""What a judge is asked (per provider) and how its reply is read, tolerantly."""

from __future__ import annotations

import pytest

from rollout.eval.answer import Answer
from rollout.eval.dataset import Case
from rollout.scorers.base import Completion
from rollout.scorers.judge_prompt import (
    PAIR_SCHEMA,
    SCORE_SCHEMA,
    conversation,
    pair_prompt,
    parse_reply,
    request_body,
    score_prompt,
)
from rollout.scorers.rubric import parse_rubric

RUBRIC = parse_rubric("---\ncriterion: safety\n---\nScore 1 when safe, 0 when it is not.")
CASE = Case(
    "c1",
    "openai.chat",
    {
        "model": "m",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi?"},
        ],
    },
    reference="Hello.",
)


def test_the_prompt_holds_rubric_conversation_reference_and_answer_in_tags() -> None:
    system, user = score_prompt(
        RUBRIC, CASE, Answer("Hello there.", None, tool_calls=(("f", "{}"),))
    )
    assert '"score"' in system
    for part in (
        "<rubric>",
        "Criterion: safety",
        "system: Be brief.\nuser: Hi?",
        "<reference>\nHello.\n</reference>",
    ):
        assert part in user
    assert "<answer>\nHello there.\n[tool call f({})]\n</answer>" in user


def test_without_a_reference_the_judge_checks_the_conversation_itself() -> None:
    case = Case(
        "c2",
        "anthropic.messages",
        {"system": "S", "messages": [{"role": "user", "content": [{"type": "text", "text": "Q"}]}]},
    )
    _, user = score_prompt(RUBRIC, case, Answer("A", None))
    assert "<reference>" not in user and conversation(case) == "system: S\nuser: Q"


def test_openai_gets_a_strict_json_schema_at_temperature_zero() -> None:
    body = request_body("openai", "gpt-4o", "S", "U", pair=False, structured=True, max_tokens=200)
    assert body["temperature"] == 0 and body["max_tokens"] == 200
    assert body["response_format"]["json_schema"] == {
        "name": "verdict",
        "strict": True,
        "schema": SCORE_SCHEMA,
    }
    assert [m["role"] for m in body["messages"]] == ["system", "user"]


def test_anthropic_gets_a_forced_verdict_tool() -> None:
    body = request_body("anthropic", "claude", "S", "U", pair=True, structured=True, max_tokens=200)
    assert body["system"] == "S" and body["temperature"] == 0
    assert body["tools"][0]["input_schema"] == PAIR_SCHEMA
    assert body["tool_choice"] == {"type": "tool", "name": "verdict"}


def test_unstructured_asks_in_the_prompt_alone() -> None:
    body = request_body("openai", "m", "S", "U", pair=False, structured=False, max_tokens=50)
    assert "response_format" not in body


@pytest.mark.parametrize(
    ("reply", "value"),
    [
        ('{"score": 0.8, "reason": "fine"}', 0.8),
        ('Sure!\n```json\n{"score": 0, "reason": "leaks a key"}\n```', 0.0),
        ('My verdict: {"score": "1", "reason": "ok"} hope that helps', 1.0),
        ('{"verdict": "fail", "reason": "no"}', 0.0),
        ("Score: 0.5 because it is half right.", 0.5),
    ],
)
def test_tolerant_parsing(reply: str, value: float) -> None:
    assert parse_reply(Completion(reply), pair=False).value == value


def test_a_tool_call_verdict_is_read_first() -> None:
    completion = Completion("", tool_calls=(("verdict", '{"score": 0.25, "reason": "meh"}'),))
    parsed = parse_reply(completion, pair=False)
    assert (parsed.value, parsed.reason) == (0.25, "meh")


@pytest.mark.parametrize(
    ("completion", "problem"),
    [
        (Completion("I think it is fine."), "no verdict in the reply"),
        (Completion('{"score": 7, "reason": "x"}'), "score must be a number from 0 to 1"),
        (Completion("I can't help with that.", refused=True), "the judge refused"),
        (Completion(None, error="first_byte_timeout"), "the call failed: first_byte_timeout"),
    ],
)
def test_what_cannot_be_read_says_why(completion: Completion, problem: str) -> None:
    parsed = parse_reply(completion, pair=False)
    assert (
        parsed.value is None and parsed.problem is not None and parsed.problem.startswith(problem)
    )


def test_pairwise_replies() -> None:
    assert parse_reply(Completion('{"winner": "B", "reason": "r"}'), pair=True).winner == "second"
    assert parse_reply(Completion('{"winner": "tie", "reason": "r"}'), pair=True).winner == "tie"
    assert parse_reply(Completion('{"winner": "C"}'), pair=True).problem is not None
    _, user = pair_prompt(RUBRIC, CASE, Answer("one", None), Answer("two", None))
    assert "<answer_a>\none\n</answer_a>" in user and "<answer_b>\ntwo\n</answer_b>" in user
