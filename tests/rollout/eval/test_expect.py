"""The expectation checks: each kind passing and failing, with the reason people read."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import ValidationError

from rollout.eval.answer import Answer
from rollout.eval.expect import KINDS, CheckResult, Expect, check_case

ORDER_ARGS = {
    "type": "object",
    "properties": {"order_id": {"type": "string", "pattern": "^A[0-9]+$"}},
    "required": ["order_id"],
}
TICKET = {
    "type": "object",
    "properties": {"priority": {"enum": ["low", "high"]}, "summary": {"type": "string"}},
    "required": ["priority", "summary"],
}


def text(value: str | None, **fields: Any) -> Answer:
    return Answer(text=value, error=None, **fields)


PASS = "pass"
CASES: list[tuple[str, dict[str, Any], Answer, str]] = [
    # contains / not_contains: a string or a list; every one / none of them
    ("contains", {"contains": "refund policy"}, text("Our refund policy is 30 days."), PASS),
    ("contains", {"contains": ["30 days", "refund"]}, text("refund within 30 days"), PASS),
    (
        "contains",
        {"contains": "refund policy"},
        text("Refunds take 30 days."),
        'missing "refund policy"',
    ),
    ("contains", {"contains": ["a1", "b2", "c3"]}, text("b2"), 'missing "a1", "c3"'),
    ("contains", {"contains": "Refund"}, text("refund"), 'missing "Refund"'),  # case-sensitive
    ("contains", {"contains": "x" * 50}, text(""), 'missing "' + "x" * 39 + '…"'),
    ("contains", {"contains": "word"}, text(None), 'missing "word"'),  # tool call, no text
    ("not_contains", {"not_contains": ["password", "SSN"]}, text("Reset it online."), PASS),
    (
        "not_contains",
        {"not_contains": "password"},
        text("Send me your password"),
        'contains "password"',
    ),
    # regex: re.search anywhere in the text
    ("regex", {"regex": r"\d{4}"}, text("order 20245 shipped"), PASS),
    ("regex", {"regex": r"\d{4}"}, text("no digits here"), r"regex /\d{4}/ not found"),
    ("regex", {"regex": r"^Hello"}, text("Oh, Hello"), "regex /^Hello/ not found"),
    # equals: surrounding whitespace stripped on both sides
    ("equals", {"equals": " yes "}, text("\nyes\n"), PASS),
    ("equals", {"equals": "yes"}, text("Yes."), 'expected "yes", got "Yes."'),
    # json_schema: parses, validates; truncation counts as invalid whatever the text
    ("json_schema", {"json_schema": TICKET}, text('{"priority": "low", "summary": "x"}'), PASS),
    ("json_schema", {"json_schema": TICKET}, text("priority: low"), "answer is not JSON"),
    (
        "json_schema",
        {"json_schema": TICKET},
        text('{"priority": "urgent", "summary": "x"}'),
        "JSON does not match the schema: at $.priority: 'urgent' is not one of ['low', 'high']",
    ),
    (
        "json_schema",
        {"json_schema": TICKET},
        text('{"priority": "low"}'),
        "JSON does not match the schema: 'summary' is a required property",
    ),
    (
        "json_schema",
        {"json_schema": TICKET},
        text('{"priority": "low", "summary": "x"}', json_result="truncated"),
        "answer cut off at the token limit",
    ),
    # tool_called: by name, and the arguments against a schema when one is given
    (
        "tool_called",
        {"tool_called": {"name": "lookup_order"}},
        text(None, tool_calls=(("lookup_order", "{}"),)),
        PASS,
    ),
    (
        "tool_called",
        {"tool_called": {"name": "lookup_order"}},
        text(None, tool_calls=(("search", "{}"),)),
        "tool lookup_order not called (called: search)",
    ),
    (
        "tool_called",
        {"tool_called": {"name": "lookup_order"}},
        text("I will look."),
        "tool lookup_order not called (called: none)",
    ),
    (
        "tool_called",
        {"tool_called": {"name": "lookup_order", "arguments": ORDER_ARGS}},
        text(
            None,
            tool_calls=(
                ("lookup_order", '{"order_id": "B1"}'),
                ("lookup_order", '{"order_id": "A7"}'),
            ),
        ),
        PASS,  # one matching call is enough
    ),
    (
        "tool_called",
        {"tool_called": {"name": "lookup_order", "arguments": ORDER_ARGS}},
        text(None, tool_calls=(("lookup_order", '{"order_id": "B1"}'),)),
        "tool lookup_order arguments do not match: at $.order_id: 'B1' does not match '^A[0-9]+$'",
    ),
    (
        "tool_called",
        {"tool_called": {"name": "lookup_order", "arguments": ORDER_ARGS}},
        text(None, tool_calls=(("lookup_order", '{"order_id": '),)),
        "tool lookup_order arguments do not match: not JSON",
    ),
    (
        "tool_called",
        {"tool_called": {"name": "lookup_order", "arguments": {}}},
        text(None, tool_calls=(("lookup_order", "[1]"),)),
        "tool lookup_order arguments do not match: not a JSON object",
    ),
    # refused
    ("refused", {"refused": True}, text("I can't help with that.", refused=True), PASS),
    ("refused", {"refused": False}, text("Sure.", refused=False), PASS),
    ("refused", {"refused": True}, text("Sure, here it is."), "did not refuse"),
    ("refused", {"refused": False}, text("I can't.", refused=True), "refused"),
    # max_output_tokens: at most; unknown usage is a failure, not a pass
    ("max_output_tokens", {"max_output_tokens": 100}, text("ok", output_tokens=100), PASS),
    (
        "max_output_tokens",
        {"max_output_tokens": 100},
        text("ok", output_tokens=101),
        "101 output tokens > 100",
    ),
    (
        "max_output_tokens",
        {"max_output_tokens": 100},
        text("ok"),
        "output tokens unknown (no usage reported)",
    ),
]


@pytest.mark.parametrize(("kind", "spec", "answer", "outcome"), CASES)
def test_each_kind(kind: str, spec: dict[str, Any], answer: Answer, outcome: str) -> None:
    [result] = check_case(Expect.model_validate(spec), answer)
    if outcome == PASS:
        assert result == CheckResult(kind, True, "")
    else:
        assert result == CheckResult(kind, False, outcome)


def test_every_kind_has_a_passing_and_a_failing_row() -> None:
    for kind in KINDS:
        outcomes = {outcome == PASS for k, _, _, outcome in CASES if k == kind}
        assert outcomes == {True, False}, kind


def test_several_kinds_are_one_check_each_in_a_fixed_order() -> None:
    expect = Expect.model_validate(
        {"max_output_tokens": 5, "regex": "ship", "contains": "order", "refused": False}
    )
    results = check_case(expect, text("your order ships today", output_tokens=9))
    assert [(r.kind, r.passed) for r in results] == [
        ("contains", True),
        ("regex", True),
        ("refused", True),
        ("max_output_tokens", False),
    ]


def test_a_failed_call_fails_every_check_with_the_error() -> None:
    expect = Expect.model_validate({"not_contains": "x", "refused": False, "contains": "y"})
    results = check_case(expect, Answer(text=None, error="http_500"))
    assert results == [
        CheckResult("contains", False, "the call failed: http_500"),
        CheckResult("not_contains", False, "the call failed: http_500"),
        CheckResult("refused", False, "the call failed: http_500"),
    ]


def test_no_expectations_no_checks() -> None:
    assert check_case(None, text("anything")) == []


def test_patterns_and_validators_are_built_once_at_load() -> None:
    expect = Expect.model_validate(
        {"regex": "a+", "json_schema": TICKET, "tool_called": {"name": "t", "arguments": {}}}
    )
    pattern, validator = expect.regex, expect._validator
    assert pattern is not None and pattern.pattern == "a+"
    assert validator is not None and expect.tool_called is not None
    assert expect.tool_called._validator is not None
    check_case(expect, text('{"priority": "x"}'))
    assert expect.regex is pattern and expect._validator is validator


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({}, "is empty: give at least one of"),
        ({"contains": []}, "must be a string or a non-empty list of strings"),
        ({"contains": ["a", ""]}, "may not contain an empty string"),
        ({"regex": "(unclosed"}, "invalid regular expression: missing ), unterminated"),
        ({"json_schema": {"type": "nope"}}, "invalid JSON schema:"),
        ({"tool_called": {"name": ""}}, "at least 1 character"),
        ({"refused": "yes"}, "valid boolean"),
        ({"max_output_tokens": -1}, "greater than or equal to 0"),
    ],
)
def test_bad_expectations_are_refused_at_load(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        Expect.model_validate(spec)
