"""OpenAI POST /v1/responses (the Responses API), plain and streamed with the real event order.

Stream: response.created, response.in_progress, response.output_item.added, then for a message
response.content_part.added, response.output_text.delta… (response.refusal.delta… for a
refusal), response.output_text.done, response.content_part.done — or for a function call
response.function_call_arguments.delta…, response.function_call_arguments.done — then
response.output_item.done and response.completed (response.incomplete when max_output_tokens
cut the output). Every event has `type` and `sequence_number`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import orjson
from aiohttp import web

from proxy.fake_provider.common import json_body, max_int, prelude
from proxy.fake_provider.echo import last_user_text
from proxy.fake_provider.errors import error_response, json_response
from proxy.fake_provider.plan import NO_ARGS, Plan, ToolChoice, content_key, make_plan
from proxy.fake_provider.sse import Event, run_stream
from proxy.fake_provider.text import count_words


def _pick_tool(tools: object, tool_choice: object) -> ToolChoice | None:
    if not isinstance(tools, list) or tool_choice == "none":
        return None
    functions = [
        t
        for t in tools
        if isinstance(t, dict) and t.get("type") == "function" and isinstance(t.get("name"), str)
    ]
    if not functions:
        return None
    chosen = functions[0]
    if isinstance(tool_choice, dict) and tool_choice.get("type") == "function":
        chosen = next((f for f in functions if f["name"] == tool_choice.get("name")), chosen)
    return ToolChoice(chosen["name"], chosen.get("parameters") or NO_ARGS)


def _text_format(body: dict[str, Any]) -> tuple[dict[str, Any], bool, Any]:
    text = body.get("text")
    fmt = text.get("format") if isinstance(text, dict) else None
    if not isinstance(fmt, dict):
        return {"type": "text"}, False, None
    kind = fmt.get("type")
    return fmt, kind in ("json_object", "json_schema"), fmt.get("schema")


class _Builder:
    """Builds the `response` object and its output items for one request."""

    def __init__(self, body: dict[str, Any], model: str, plan: Plan, fmt: dict[str, Any]):
        self.body, self.model, self.plan, self.fmt = body, model, plan, fmt
        self.id = "resp_" + os.urandom(16).hex()
        self.created = int(time.time())
        self.incomplete = plan.finish == "length"
        self.item_id = ("fc_" if plan.kind == "tool" else "msg_") + os.urandom(16).hex()
        self.call_id = "call_" + os.urandom(12).hex()

    def part(self, text: str) -> dict[str, Any]:
        if self.plan.kind == "refusal":
            return {"type": "refusal", "refusal": text}
        return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}

    def item(self, done: bool) -> dict[str, Any]:
        status = ("incomplete" if self.incomplete else "completed") if done else "in_progress"
        if self.plan.kind == "tool":
            return {
                "id": self.item_id,
                "type": "function_call",
                "status": status,
                "arguments": self.plan.text if done else "",
                "call_id": self.call_id,
                "name": self.plan.tool_name,
            }
        content = [self.part(self.plan.text)] if done else []
        return {
            "id": self.item_id,
            "type": "message",
            "status": status,
            "content": content,
            "role": "assistant",
        }

    def usage(self) -> dict[str, Any]:
        plan = self.plan
        return {
            "input_tokens": plan.prompt_tokens,
            "input_tokens_details": {"cached_tokens": plan.cached_tokens},
            "output_tokens": plan.output_tokens,
            "output_tokens_details": {"reasoning_tokens": plan.reasoning_tokens},
            "total_tokens": plan.prompt_tokens + plan.output_tokens,
        }

    def response(self, done: bool) -> dict[str, Any]:
        body = self.body
        status = ("incomplete" if self.incomplete else "completed") if done else "in_progress"
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created,
            "status": status,
            "background": False,
            "error": None,
            "incomplete_details": {"reason": "max_output_tokens"}
            if done and self.incomplete
            else None,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "max_tool_calls": None,
            "model": self.model,
            "output": [self.item(True)] if done else [],
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "previous_response_id": body.get("previous_response_id"),
            "reasoning": {"effort": None, "summary": None},
            "service_tier": "default",
            "store": body.get("store", True),
            "temperature": body.get("temperature", 1.0),
            "text": {"format": self.fmt, "verbosity": "medium"},
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": body.get("tools", []),
            "top_p": body.get("top_p", 1.0),
            "truncation": "disabled",
            "usage": self.usage() if done else None,
            "user": None,
            "metadata": body.get("metadata") or {},
        }


def _event(seq: int, kind: str, **fields: Any) -> bytes:
    fields["type"] = kind
    fields["sequence_number"] = seq
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(fields) + b"\n\n"


def _events(b: _Builder) -> Iterator[Event]:
    plan, item_id = b.plan, b.item_id
    seq = 0
    yield _event(seq, "response.created", response=b.response(False)), False
    seq += 1
    yield _event(seq, "response.in_progress", response=b.response(False)), False
    seq += 1
    yield _event(seq, "response.output_item.added", output_index=0, item=b.item(False)), False
    where = {"item_id": item_id, "output_index": 0}
    if plan.kind == "tool":
        kind = "response.function_call_arguments.delta"
        prefix = b'","output_index":0,"delta":'
    else:
        seq += 1
        where["content_index"] = 0
        part = b.part("")
        yield _event(seq, "response.content_part.added", part=part, **where), False
        refusal = plan.kind == "refusal"
        kind = "response.refusal.delta" if refusal else "response.output_text.delta"
        prefix = b'","output_index":0,"content_index":0,"delta":'
    head = (
        b"event: " + kind.encode() + b'\ndata: {"type":"' + kind.encode()
        + b'","item_id":"' + item_id.encode() + prefix
    )  # fmt: skip
    logprobs = b',"logprobs":[]' if kind == "response.output_text.delta" else b""
    for piece in plan.pieces:
        seq += 1
        tail = logprobs + b',"sequence_number":' + str(seq).encode() + b"}\n\n"
        yield head + orjson.dumps(piece) + tail, True
    text = plan.text
    seq += 1
    if plan.kind == "tool":
        done = _event(seq, "response.function_call_arguments.done", arguments=text, **where)
        yield done, False
    else:
        if plan.kind == "refusal":
            yield _event(seq, "response.refusal.done", refusal=text, **where), False
        else:
            done = _event(seq, "response.output_text.done", text=text, logprobs=[], **where)
            yield done, False
        seq += 1
        yield _event(seq, "response.content_part.done", part=b.part(text), **where), False
    seq += 1
    yield _event(seq, "response.output_item.done", output_index=0, item=b.item(True)), False
    seq += 1
    final = "response.incomplete" if b.incomplete else "response.completed"
    yield _event(seq, final, response=b.response(True)), False


async def responses(request: web.Request) -> web.StreamResponse:
    body = json_body(request, "openai")
    if isinstance(body, web.Response):
        return body
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return error_response("openai", 400, "Missing required parameter: 'model'.")
    if "input" not in body and "previous_response_id" not in body:
        return error_response("openai", 400, "Missing required parameter: 'input'.")
    stream = body.get("stream") is True
    knobs = await prelude(request, "openai", model, stream)
    if isinstance(knobs, web.Response):
        return knobs
    fmt, json_mode, schema = _text_format(body)
    plan = make_plan(
        knobs,
        key=content_key(knobs.seed, model, body.get("instructions"), body.get("input")),
        prompt_tokens=count_words(body.get("input")) + count_words(body.get("instructions")),
        max_tokens=max_int(body.get("max_output_tokens")),
        tool=_pick_tool(body.get("tools"), body.get("tool_choice")),
        json_mode=json_mode,
        schema=schema,
        echo_text=last_user_text(body.get("input")),
    )
    builder = _Builder(body, model, plan, fmt)
    if stream:
        return await run_stream(request, knobs, _events(builder))
    return json_response(builder.response(True))
