"""Anthropic POST /v1/messages, plain and streamed with the full event sequence.

Stream: message_start, content_block_start, ping, content_block_delta… (text_delta, or
input_json_delta for a tool_use block), content_block_stop, message_delta (stop_reason and
usage.output_tokens), message_stop — each as `event: <type>` + `data: {...}`.

stop_reason: end_turn, max_tokens (max_tokens below the planned output), tool_use (when `tools`
are given and tool_choice is not none), refusal. Structured output (`output_config.format` or
`output_format` of type json_schema) makes the text block a JSON document. A non-streamed
tool_use block always carries an object as `input` ({} if the planned JSON was made invalid).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import orjson
from aiohttp import web

from proxy.fake_provider.common import json_body, max_int, prelude
from proxy.fake_provider.echo import last_user_text
from proxy.fake_provider.errors import error_response, json_response
from proxy.fake_provider.judge import judge_text
from proxy.fake_provider.plan import NO_ARGS, Plan, ToolChoice, content_key, make_plan
from proxy.fake_provider.sse import Event, named_event, run_stream
from proxy.fake_provider.text import count_words

_STOP = {"stop": "end_turn", "length": "max_tokens", "tool": "tool_use", "refusal": "refusal"}
_PING = named_event("ping", {"type": "ping"})
_BLOCK_STOP = named_event("content_block_stop", {"type": "content_block_stop", "index": 0})
_MESSAGE_STOP = named_event("message_stop", {"type": "message_stop"})
_TEXT_HEAD = (
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
    b'"delta":{"type":"text_delta","text":'
)
_JSON_HEAD = (
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
    b'"delta":{"type":"input_json_delta","partial_json":'
)


def _pick_tool(tools: object, tool_choice: object) -> ToolChoice | None:
    if not isinstance(tools, list) or not tools:
        return None
    if isinstance(tool_choice, dict) and tool_choice.get("type") == "none":
        return None
    custom = [
        t
        for t in tools
        if isinstance(t, dict) and isinstance(t.get("name"), str) and "input_schema" in t
    ]
    if not custom:
        return None
    chosen = custom[0]
    if isinstance(tool_choice, dict) and tool_choice.get("type") == "tool":
        chosen = next((t for t in custom if t["name"] == tool_choice.get("name")), chosen)
    return ToolChoice(chosen["name"], chosen.get("input_schema") or NO_ARGS)


def _output_schema(body: dict[str, Any]) -> tuple[bool, Any]:
    config = body.get("output_config")
    fmt = config.get("format") if isinstance(config, dict) else None
    if not isinstance(fmt, dict):
        fmt = body.get("output_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        return True, fmt.get("schema")
    return False, None


def _usage(plan: Plan, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": plan.prompt_tokens - plan.cached_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": plan.cached_tokens,
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


def _tool_input(text: str) -> dict[str, Any]:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


async def messages(request: web.Request) -> web.StreamResponse:
    body = json_body(request, "anthropic")
    if isinstance(body, web.Response):
        return body
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return error_response("anthropic", 400, "model: Field required")
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        return error_response("anthropic", 400, "messages: Field required")
    max_tokens = max_int(body.get("max_tokens"))
    if max_tokens is None or max_tokens < 1:
        return error_response("anthropic", 400, "max_tokens: Field required")
    stream = body.get("stream") is True
    knobs = await prelude(request, "anthropic", model, stream)
    if isinstance(knobs, web.Response):
        return knobs
    json_mode, schema = _output_schema(body)
    verdict = await judge_text(request, knobs, last_user_text(msgs))
    plan = make_plan(
        knobs,
        key=content_key(knobs.seed, model, body.get("system"), msgs),
        prompt_tokens=count_words(body.get("system")) + count_words(msgs),
        max_tokens=max_tokens,
        tool=_pick_tool(body.get("tools"), body.get("tool_choice")),
        json_mode=json_mode,
        schema=schema,
        echo_text=last_user_text(msgs),
        judge_text=verdict,
    )
    mid = "msg_" + os.urandom(12).hex()
    if stream:
        return await run_stream(request, knobs, _events(plan, mid, model), anthropic=True)
    if plan.kind == "tool":
        block: dict[str, Any] = {
            "type": "tool_use",
            "id": "toolu_" + os.urandom(12).hex(),
            "name": plan.tool_name,
            "input": _tool_input(plan.text),
        }
    else:
        block = {"type": "text", "text": plan.text}
    return json_response(
        {
            "id": mid,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [block],
            "stop_reason": _STOP[plan.finish],
            "stop_sequence": None,
            "usage": _usage(plan, plan.output_tokens),
        },
        "anthropic",
    )


def _events(plan: Plan, mid: str, model: str) -> Iterator[Event]:
    message = {
        "id": mid,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": _usage(plan, 1),
    }
    yield named_event("message_start", {"type": "message_start", "message": message}), False
    if plan.kind == "tool":
        block: dict[str, Any] = {
            "type": "tool_use",
            "id": "toolu_" + os.urandom(12).hex(),
            "name": plan.tool_name,
            "input": {},
        }
        head = _JSON_HEAD
    else:
        block = {"type": "text", "text": ""}
        head = _TEXT_HEAD
    start = {"type": "content_block_start", "index": 0, "content_block": block}
    yield named_event("content_block_start", start), False
    yield _PING, False
    for piece in plan.pieces:
        yield head + orjson.dumps(piece) + b"}}\n\n", True
    yield _BLOCK_STOP, False
    delta = {
        "type": "message_delta",
        "delta": {"stop_reason": _STOP[plan.finish], "stop_sequence": None},
        "usage": {"output_tokens": plan.output_tokens},
    }
    yield named_event("message_delta", delta), False
    yield _MESSAGE_STOP, False
