"""What to answer, independent of the wire format: a list of output pieces and a finish reason.

Each API module turns its request into a `Plan` with `make_plan`, then renders the plan in its own
JSON or SSE shape. One piece is one output token and one stream chunk.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from proxy.fake_provider.echo import degraded, echo_pieces
from proxy.fake_provider.knobs import Knobs
from proxy.fake_provider.text import (
    REFUSAL_PIECES,
    json_text,
    split_pieces,
    truncate_json,
    word_pieces,
)

Kind = Literal["text", "json", "tool", "refusal"]
Finish = Literal["stop", "length", "tool", "refusal"]


NO_ARGS: dict[str, Any] = {"type": "object", "properties": {}}  # a tool without parameters


@dataclass(slots=True)
class ToolChoice:
    name: str
    schema: Any


@dataclass(slots=True)
class Plan:
    kind: Kind
    pieces: Sequence[str]
    finish: Finish
    prompt_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    tool_name: str | None = None

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    @property
    def output_tokens(self) -> int:
        """Tokens billed as output: the visible pieces plus hidden reasoning tokens."""
        return len(self.pieces) + self.reasoning_tokens


def content_key(seed: int, *parts: object) -> int:
    """A stable number that picks the words from what was asked (model, prompt), so the same
    question gets the same answer whether streamed or not, whatever the other parameters."""
    try:
        raw = orjson.dumps(parts)
    except TypeError:
        raw = repr(parts).encode()
    return zlib.crc32(raw) ^ (seed & 0xFFFFFFFF)


def make_plan(
    knobs: Knobs,
    *,
    key: int,
    prompt_tokens: int,
    max_tokens: object = None,
    tool: ToolChoice | None = None,
    json_mode: bool = False,
    schema: Any = None,
    echo_text: str | None = None,
    judge_text: str | None = None,
) -> Plan:
    """`echo_text` is the last user message's text: the answer in echo mode (knobs.echo)."""
    n = knobs.output_tokens
    kind: Kind
    finish: Finish
    tool_name = None
    if knobs.refuse:
        kind, finish, pieces = "refusal", "refusal", REFUSAL_PIECES
    elif judge_text is not None:  # judge mode: the verdict, in the shape that was asked for
        pieces = echo_pieces(judge_text)
        kind, finish = ("tool", "tool") if tool is not None else ("text", "stop")
        tool_name = tool.name if tool is not None else None
    elif tool is not None or json_mode:
        text = json_text(tool.schema if tool is not None else schema, key, n)
        if knobs.invalid_json:
            text = truncate_json(text)
        pieces = split_pieces(text, n)
        kind, finish = ("tool", "tool") if tool is not None else ("json", "stop")
        tool_name = tool.name if tool is not None else None
    elif knobs.echo and echo_text is not None and not degraded(echo_text, knobs.degrade_share):
        kind, finish, pieces = "text", "stop", echo_pieces(echo_text)
    else:
        kind, finish, pieces = "text", "stop", word_pieces(key, n)
    if (
        kind != "refusal"
        and isinstance(max_tokens, int)
        and not isinstance(max_tokens, bool)
        and max_tokens < len(pieces)
    ):
        pieces = pieces[: max(1, max_tokens)]
        finish = "length"
    return Plan(
        kind=kind,
        pieces=pieces,
        finish=finish,
        prompt_tokens=prompt_tokens,
        cached_tokens=int(prompt_tokens * knobs.cached_ratio),
        reasoning_tokens=knobs.reasoning_tokens,
        tool_name=tool_name,
    )
