"""What a case expects of an answer, and the pure checks that say whether an answer meets it.

A case's `expect` object holds one or more kinds; each kind is one check (docs/eval-dataset.md):

  contains           string or list: every one must appear in the text (case-sensitive)
  not_contains       string or list: none may appear
  regex              Python `re.search` finds it in the text
  equals             the text equals it once surrounding whitespace is stripped from both
  json_schema        the text parses as JSON and validates against the schema
  tool_called        {name, arguments?}: a tool call has that name (and its arguments validate)
  refused            true | false: the answer refused, or did not
  max_output_tokens  the answer used at most this many output tokens (unknown usage fails)

Everything that can be wrong with an expectation (a bad pattern, a broken schema) is found when
the dataset loads, so a run never starts with a check that cannot judge. Patterns are compiled
once there and kept on the model. JSON verdicts come from rollout.quality.json_validity, so an
eval and the live json_validity gate agree on what valid means; the validator kept here only
explains a mismatch in the reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from jsonschema import exceptions as jsonschema_exceptions
from jsonschema import validators
from jsonschema_specifications import REGISTRY as METASCHEMAS
from pydantic import (
    BeforeValidator,
    Field,
    PrivateAttr,
    StrictBool,
    StrictStr,
    model_validator,
)

from rollout.config.strict import Strict
from rollout.eval.answer import Answer
from rollout.quality.json_validity import (
    INVALID_JSON,
    TRUNCATED,
    VALID,
    check_json,
    check_tool_arguments,
)

KINDS: tuple[str, ...] = (
    "contains",
    "not_contains",
    "regex",
    "equals",
    "json_schema",
    "tool_called",
    "refused",
    "max_output_tokens",
)
_QUOTE_LIMIT = 40  # reasons are read in PR comments: long expected strings are shortened


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ValueError("must be a string or a non-empty list of strings")
    if "" in value:
        raise ValueError("may not contain an empty string (it is in every answer)")
    return tuple(value)


def _pattern(value: Any) -> re.Pattern[str]:
    if not isinstance(value, str):
        raise ValueError("must be a string (a Python regular expression)")
    try:
        return re.compile(value)
    except re.error as exc:
        raise ValueError(f"invalid regular expression: {exc}") from None


def _schema(value: Any) -> dict[str, Any] | bool:
    if not isinstance(value, dict | bool):
        raise ValueError("must be a JSON schema (an object)")
    try:
        validators.validator_for(value).check_schema(value)
    except jsonschema_exceptions.SchemaError as exc:
        raise ValueError(f"invalid JSON schema: {exc.message}") from None
    return value


def _validator(schema: dict[str, Any] | bool) -> Any:
    # As json_validity builds them: the schema's own draft, and a registry that fetches nothing.
    return validators.validator_for(schema)(schema, registry=METASCHEMAS)


Strings = Annotated[tuple[str, ...] | None, BeforeValidator(_strings)]
Pattern = Annotated[re.Pattern[str] | None, BeforeValidator(_pattern)]
Schema = Annotated[dict[str, Any] | bool | None, BeforeValidator(_schema)]


class ToolCalled(Strict):
    name: StrictStr = Field(min_length=1)
    arguments: Schema = None  # a JSON schema the call's arguments must validate against
    _validator: Any = PrivateAttr(None)

    def model_post_init(self, _context: Any) -> None:
        if self.arguments is not None:
            self._validator = _validator(self.arguments)


class Expect(Strict):
    """A case's expectations; unset kinds are None and not checked."""

    contains: Strings = None
    not_contains: Strings = None
    regex: Pattern = None
    equals: StrictStr | None = None
    json_schema: Schema = None
    tool_called: ToolCalled | None = None
    refused: StrictBool | None = None
    max_output_tokens: Annotated[int, Field(strict=True, ge=0)] | None = None
    _validator: Any = PrivateAttr(None)

    @model_validator(mode="after")
    def _not_empty(self) -> Expect:
        if not self.kinds():
            raise ValueError(f"is empty: give at least one of {', '.join(KINDS)}")
        return self

    def model_post_init(self, _context: Any) -> None:
        if self.json_schema is not None:
            self._validator = _validator(self.json_schema)

    def kinds(self) -> tuple[str, ...]:
        """The kinds this case checks, in the order of KINDS."""
        return tuple(k for k in KINDS if getattr(self, k) is not None)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One expectation kind judged on one answer; `reason` is empty when it passed."""

    kind: str
    passed: bool
    reason: str


def check_case(expect: Expect | None, answer: Answer) -> list[CheckResult]:
    """Every expectation of a case judged on one answer; a failed call fails them all."""
    if expect is None:
        return []
    if answer.error is not None:
        failed = f"the call failed: {answer.error}"
        return [CheckResult(kind, False, failed) for kind in expect.kinds()]
    results = []
    for kind in expect.kinds():
        reason = _CHECKS[kind](expect, answer)
        results.append(CheckResult(kind, reason is None, reason or ""))
    return results


# Each check returns None when the answer passes, else the reason it does not.


def _quote(text: str) -> str:
    if len(text) > _QUOTE_LIMIT:
        text = text[: _QUOTE_LIMIT - 1] + "…"
    return '"' + text + '"'


def _text(answer: Answer) -> str:
    return answer.text or ""  # a tool-call-only answer has no text


def _contains(expect: Expect, answer: Answer) -> str | None:
    text = _text(answer)
    missing = [s for s in expect.contains or () if s not in text]
    return "missing " + ", ".join(map(_quote, missing)) if missing else None


def _not_contains(expect: Expect, answer: Answer) -> str | None:
    text = _text(answer)
    present = [s for s in expect.not_contains or () if s in text]
    return "contains " + ", ".join(map(_quote, present)) if present else None


def _regex(expect: Expect, answer: Answer) -> str | None:
    pattern = expect.regex
    assert pattern is not None
    return None if pattern.search(_text(answer)) else f"regex /{pattern.pattern}/ not found"


def _equals(expect: Expect, answer: Answer) -> str | None:
    wanted, got = (expect.equals or "").strip(), _text(answer).strip()
    return None if got == wanted else f"expected {_quote(wanted)}, got {_quote(got)}"


def _mismatch(validator: Any, text: str | bytes) -> str:
    """The first schema error, in a few words: `at $.order.id: 12 is not of type 'string'`."""
    try:
        instance = orjson.loads(text)
    except orjson.JSONDecodeError:
        return "not JSON"
    error = jsonschema_exceptions.best_match(validator.iter_errors(instance))
    if error is None:  # json_validity judged it, for a reason the schema alone does not show
        return "not a JSON object"
    where = f"at {error.json_path}: " if error.path else ""
    message = error.message if len(error.message) <= 80 else error.message[:79] + "…"
    return where + message


def _json_schema(expect: Expect, answer: Answer) -> str | None:
    text = _text(answer)
    status = check_json(text, expect.json_schema, truncated=answer.json_result == TRUNCATED)
    if status == VALID:
        return None
    if status == TRUNCATED:
        return "answer cut off at the token limit"
    if status == INVALID_JSON:
        return "answer is not JSON"
    return "JSON does not match the schema: " + _mismatch(expect._validator, text)


def _tool_called(expect: Expect, answer: Answer) -> str | None:
    want = expect.tool_called
    assert want is not None
    calls = [arguments for name, arguments in answer.tool_calls if name == want.name]
    if not calls:
        called = ", ".join(name for name, _ in answer.tool_calls) or "none"
        return f"tool {want.name} not called (called: {called})"
    if want.arguments is None:
        return None
    if any(check_tool_arguments(a, want.arguments) == VALID for a in calls):
        return None
    return f"tool {want.name} arguments do not match: " + _mismatch(want._validator, calls[0])


def _refused(expect: Expect, answer: Answer) -> str | None:
    if answer.refused == expect.refused:
        return None
    return "did not refuse" if expect.refused else "refused"


def _max_output_tokens(expect: Expect, answer: Answer) -> str | None:
    limit, used = expect.max_output_tokens, answer.output_tokens
    if used is None:
        return "output tokens unknown (no usage reported)"
    assert limit is not None
    return None if used <= limit else f"{used} output tokens > {limit}"


_CHECKS: dict[str, Callable[[Expect, Answer], str | None]] = {
    "contains": _contains,
    "not_contains": _not_contains,
    "regex": _regex,
    "equals": _equals,
    "json_schema": _json_schema,
    "tool_called": _tool_called,
    "refused": _refused,
    "max_output_tokens": _max_output_tokens,
}
