"""What a judge is asked, in which wire shape, and how its answer is read.

The prompt gives the rubric, the conversation (the case's request as the model saw it), the
case's reference when it has one (else the judge checks against the conversation's own
context), and the answer under judgement, each in its own tag. Structured output: OpenAI chat
gets `response_format` with a strict JSON schema; Anthropic a forced tool whose input schema is
the verdict. A provider that supports neither is asked in the prompt alone (`structured:
false`), and the reply is read tolerantly: bare JSON, JSON in a code fence or inside prose, or
`score: 0.7` as plain words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from rollout.eval.answer import Answer
from rollout.eval.dataset import Case
from rollout.scorers.base import Completion, Winner
from rollout.scorers.rubric import Rubric

TOOL = "verdict"
REASON_CHARS = 300
SCORE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "reason": {"type": "string"},
    },
    "required": ["score", "reason"],
    "additionalProperties": False,
}
PAIR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "winner": {"type": "string", "enum": ["A", "B", "tie"]},
        "reason": {"type": "string"},
    },
    "required": ["winner", "reason"],
    "additionalProperties": False,
}
SYSTEM = (
    "You are a careful, strict evaluator of an AI assistant's answers. Judge only the criterion"
    " named in the rubric, nothing else. Reply with JSON only: {reply}. Keep the reason to one"
    " short sentence."
)
SCORE_REPLY = '{"score": <a number from 0 (worst) to 1 (best)>, "reason": "<why>"}'
PAIR_REPLY = '{"winner": "A" | "B" | "tie", "reason": "<why>"}'


@dataclass(frozen=True, slots=True)
class Parsed:
    value: float | None = None
    winner: Winner | None = None  # pairwise: A -> first, B -> second
    reason: str = ""
    problem: str | None = None  # why the reply could not be read


def score_prompt(rubric: Rubric, case: Case, answer: Answer) -> tuple[str, str]:
    """(system, user) for judging one answer."""
    parts = [_rubric(rubric), _tag("conversation", conversation(case)), *_reference(case)]
    parts.append(_tag("answer", answer_text(answer)))
    parts.append(f"Judge the answer for {rubric.criterion}.")
    return SYSTEM.format(reply=SCORE_REPLY), "\n\n".join(parts)


def pair_prompt(rubric: Rubric, case: Case, a: Answer, b: Answer) -> tuple[str, str]:
    """(system, user) for saying which of two answers is better."""
    parts = [_rubric(rubric), _tag("conversation", conversation(case)), *_reference(case)]
    parts += [_tag("answer_a", answer_text(a)), _tag("answer_b", answer_text(b))]
    parts.append(f"Which answer is better for {rubric.criterion}? Say tie when neither is.")
    return SYSTEM.format(reply=PAIR_REPLY), "\n\n".join(parts)


def request_body(
    kind: str, model: str, system: str, user: str, *, pair: bool, structured: bool, max_tokens: int
) -> dict[str, Any]:
    """The judge request in the provider's API (kind: openai or anthropic), temperature 0."""
    schema = PAIR_SCHEMA if pair else SCORE_SCHEMA
    if kind == "anthropic":
        body: dict[str, Any] = {
            "model": model,
            "max_tokens": max_tokens,
            "temperature": 0,
            "system": system,
            "messages": [{"role": "user", "content": user}],
        }
        if structured:
            body["tools"] = [{"name": TOOL, "description": "the verdict", "input_schema": schema}]
            body["tool_choice"] = {"type": "tool", "name": TOOL}
        return body
    body = {
        "model": model,
        "max_tokens": max_tokens,
        "temperature": 0,
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
    }
    if structured:
        spec = {"name": TOOL, "strict": True, "schema": schema}
        body["response_format"] = {"type": "json_schema", "json_schema": spec}
    return body


def parse_reply(completion: Completion, *, pair: bool) -> Parsed:
    """The verdict in a judge's reply, or why there is none (refused, malformed)."""
    if completion.error is not None:
        return Parsed(problem=f"the call failed: {completion.error}")
    if completion.refused:
        return Parsed(problem="the judge refused")
    doc = _tool_arguments(completion) or _json_in(completion.text or "")
    if doc is None and not pair:
        doc = _plain_words(completion.text or "")
    if doc is None:
        return Parsed(problem="no verdict in the reply: " + _clip(completion.text or "", 80))
    return _pair(doc) if pair else _single(doc)


def _single(doc: dict[str, Any]) -> Parsed:
    score = doc.get("score")
    if isinstance(score, str):
        score = _number(score)
    if score is None and isinstance(doc.get("verdict"), str):
        score = {"pass": 1.0, "fail": 0.0}.get(doc["verdict"].strip().lower())
    if isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 1:
        return Parsed(problem=f"score must be a number from 0 to 1 (got {score!r})")
    return Parsed(value=float(score), reason=_reason(doc))


def _pair(doc: dict[str, Any]) -> Parsed:
    raw = str(doc.get("winner", "")).strip().lower()
    winner = {"a": "first", "b": "second", "tie": "tie"}.get(raw)
    if winner is None:
        return Parsed(problem=f"winner must be A, B or tie (got {doc.get('winner')!r})")
    return Parsed(winner=winner, reason=_reason(doc))  # type: ignore[arg-type]


def _tool_arguments(completion: Completion) -> dict[str, Any] | None:
    for name, arguments in completion.tool_calls:
        if name == TOOL:
            return _load(arguments)
    return None


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)
_SCORE_WORDS = re.compile(r"\bscore\b\W{0,3}([01](?:\.\d+)?)", re.IGNORECASE)


def _json_in(text: str) -> dict[str, Any] | None:
    """JSON as the whole reply, in a code fence, or between the first { and the last }."""
    candidates = [text.strip(), *_FENCE.findall(text)]
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])
    for candidate in candidates:
        doc = _load(candidate)
        if doc is not None:
            return doc
    return None


def _plain_words(text: str) -> dict[str, Any] | None:
    found = _SCORE_WORDS.search(text)
    return None if found is None else {"score": float(found.group(1)), "reason": text.strip()}


def _load(text: str) -> dict[str, Any] | None:
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return doc if isinstance(doc, dict) else None


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _reason(doc: dict[str, Any]) -> str:
    reason = doc.get("reason")
    return _clip(reason if isinstance(reason, str) else "", REASON_CHARS)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _rubric(rubric: Rubric) -> str:
    return _tag("rubric", f"Criterion: {rubric.criterion}\n\n{rubric.text}")


def _reference(case: Case) -> list[str]:
    if case.reference is None:
        return []
    return [_tag("reference", case.reference)]


def _tag(name: str, body: str) -> str:
    return f"<{name}>\n{body}\n</{name}>"


def answer_text(answer: Answer) -> str:
    """The answer as the judge reads it: its text, then any tool calls it made."""
    lines = [answer.text or ""]
    lines += [f"[tool call {name}({arguments})]" for name, arguments in answer.tool_calls]
    return "\n".join(line for line in lines if line) or "(empty answer)"


def conversation(case: Case) -> str:
    """The request's messages as `role: text` lines (system prompts included)."""
    request = case.request
    lines = []
    for key in ("system", "instructions"):
        if key in request:
            lines.append(f"system: {_content(request[key])}")
    messages = request.get("messages", request.get("input", []))
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    for message in messages if isinstance(messages, list) else ():
        if isinstance(message, dict):
            lines.append(f"{message.get('role', 'user')}: {_content(message.get('content'))}")
    return "\n".join(lines)


def _content(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [p.get("text") for p in content if isinstance(p, dict)]
        return "\n".join(t for t in texts if isinstance(t, str))
    return ""
