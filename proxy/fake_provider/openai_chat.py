"""OpenAI POST /v1/chat/completions and the legacy POST /v1/completions."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import orjson
from aiohttp import web

from proxy.fake_provider.common import max_int, openai_request, prelude
from proxy.fake_provider.echo import last_user_text
from proxy.fake_provider.errors import error_response, json_response
from proxy.fake_provider.judge import judge_text
from proxy.fake_provider.plan import NO_ARGS, Plan, ToolChoice, content_key, make_plan
from proxy.fake_provider.sse import DONE, Event, run_stream
from proxy.fake_provider.text import count_words

FINGERPRINT = "fp_fake"
_FINISH = {"stop": "stop", "length": "length", "tool": "tool_calls", "refusal": "stop"}


def chat_usage(plan: Plan) -> dict[str, Any]:
    out = plan.output_tokens
    return {
        "prompt_tokens": plan.prompt_tokens,
        "completion_tokens": out,
        "total_tokens": plan.prompt_tokens + out,
        "prompt_tokens_details": {"cached_tokens": plan.cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": plan.reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def pick_tool(tools: object, tool_choice: object) -> ToolChoice | None:
    """The function the fake model calls: the one tool_choice names, else the first one."""
    if not isinstance(tools, list) or not tools or tool_choice == "none":
        return None
    functions = [
        t["function"] for t in tools if isinstance(t, dict) and isinstance(t.get("function"), dict)
    ]
    functions = [f for f in functions if isinstance(f.get("name"), str)]
    if not functions:
        return None
    chosen = functions[0]
    if isinstance(tool_choice, dict) and isinstance(tool_choice.get("function"), dict):
        wanted = tool_choice["function"].get("name")
        chosen = next((f for f in functions if f["name"] == wanted), chosen)
    return ToolChoice(chosen["name"], chosen.get("parameters") or NO_ARGS)


def _response_format(body: dict[str, Any]) -> tuple[bool, Any, bool]:
    """(json_mode, schema, schema_mode) from response_format."""
    fmt = body.get("response_format")
    if not isinstance(fmt, dict):
        return False, None, False
    kind = fmt.get("type")
    if kind == "json_object":
        return True, None, False
    if kind == "json_schema":
        spec = fmt.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        return True, schema, True
    return False, None, False


async def chat_completions(request: web.Request) -> web.StreamResponse:
    parsed = openai_request(request)
    if isinstance(parsed, web.Response):
        return parsed
    body, model = parsed
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return error_response("openai", 400, "'messages' must be a non-empty array.")
    stream = body.get("stream") is True
    knobs = await prelude(request, "openai", model, stream)
    if isinstance(knobs, web.Response):
        return knobs
    json_mode, schema, schema_mode = _response_format(body)
    verdict = await judge_text(request, knobs, last_user_text(messages))
    plan = make_plan(
        knobs,
        key=content_key(knobs.seed, model, messages),
        prompt_tokens=count_words(messages),
        max_tokens=max_int(body.get("max_completion_tokens"), body.get("max_tokens")),
        tool=pick_tool(body.get("tools"), body.get("tool_choice")),
        json_mode=json_mode,
        schema=schema,
        echo_text=last_user_text(messages),
        judge_text=verdict,
    )
    cid = "chatcmpl-" + os.urandom(12).hex()
    created = int(time.time())
    if stream:
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        events = chat_events(plan, cid, created, model, include_usage, schema_mode)
        return await run_stream(request, knobs, events)
    message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
    if plan.kind == "tool":
        message["tool_calls"] = [
            {
                "id": "call_" + os.urandom(12).hex(),
                "type": "function",
                "function": {"name": plan.tool_name, "arguments": plan.text},
            }
        ]
    elif plan.kind == "refusal" and schema_mode:
        message["refusal"] = plan.text
    else:
        message["content"] = plan.text
    message["annotations"] = []
    return json_response(
        {
            "id": cid,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": _FINISH[plan.finish],
                }
            ],
            "usage": chat_usage(plan),
            "service_tier": "default",
            "system_fingerprint": FINGERPRINT,
        }
    )


def chat_events(
    plan: Plan, cid: str, created: int, model: str, include_usage: bool, schema_mode: bool
) -> Iterator[Event]:
    """The events of a chat stream; with include_usage, `"usage":null` ends every chunk and a
    usage-only chunk (`"choices":[]`) comes before [DONE], as OpenAI sends them."""
    head = (
        b'data: {"id":"' + cid.encode() + b'","object":"chat.completion.chunk","created":'
        + str(created).encode() + b',"model":' + orjson.dumps(model)
        + b',"service_tier":"default","system_fingerprint":"' + FINGERPRINT.encode()
        + b'","choices":[{"index":0,"delta":'
    )  # fmt: skip
    usage_null = b',"usage":null' if include_usage else b""
    tail = b',"logprobs":null,"finish_reason":null}]' + usage_null + b"}\n\n"
    if plan.kind == "tool":
        call = {
            "index": 0,
            "id": "call_" + os.urandom(12).hex(),
            "type": "function",
            "function": {"name": plan.tool_name, "arguments": ""},
        }
        first = {"role": "assistant", "content": None, "tool_calls": [call], "refusal": None}
        yield head + orjson.dumps(first) + tail, False
        frag_head = b'{"tool_calls":[{"index":0,"function":{"arguments":'
        for piece in plan.pieces:
            yield head + frag_head + orjson.dumps(piece) + b"}}]}" + tail, True
    else:
        yield head + b'{"role":"assistant","content":"","refusal":null}' + tail, False
        field = b'{"refusal":' if plan.kind == "refusal" and schema_mode else b'{"content":'
        for piece in plan.pieces:
            yield head + field + orjson.dumps(piece) + b"}" + tail, True
    finish = orjson.dumps(_FINISH[plan.finish])
    yield (
        head + b'{},"logprobs":null,"finish_reason":' + finish + b"}]" + usage_null + b"}\n\n",
        False,
    )
    if include_usage:
        usage = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "service_tier": "default",
            "system_fingerprint": FINGERPRINT,
            "choices": [],
            "usage": chat_usage(plan),
        }
        yield b"data: " + orjson.dumps(usage) + b"\n\n", False
    yield DONE, False


# ---- legacy completions -----------------------------------------------------------------------


def _prompt_tokens(prompt: object) -> int:
    if isinstance(prompt, list) and prompt and all(isinstance(t, int) for t in prompt):
        return len(prompt)
    if isinstance(prompt, list) and all(isinstance(p, list) for p in prompt):
        return sum(len(p) for p in prompt)
    return count_words(prompt)


async def completions(request: web.Request) -> web.StreamResponse:
    parsed = openai_request(request)
    if isinstance(parsed, web.Response):
        return parsed
    body, model = parsed
    stream = body.get("stream") is True
    knobs = await prelude(request, "openai", model, stream)
    if isinstance(knobs, web.Response):
        return knobs
    plan = make_plan(
        knobs,
        key=content_key(knobs.seed, model, body.get("prompt")),
        prompt_tokens=_prompt_tokens(body.get("prompt")),
        max_tokens=max_int(body.get("max_tokens")),
    )
    cid = "cmpl-" + os.urandom(12).hex()
    created = int(time.time())
    finish = "length" if plan.finish == "length" else "stop"
    usage = {
        "prompt_tokens": plan.prompt_tokens,
        "completion_tokens": plan.output_tokens,
        "total_tokens": plan.prompt_tokens + plan.output_tokens,
    }
    base = {"id": cid, "object": "text_completion", "created": created, "model": model}
    if not stream:
        choice = {"text": plan.text, "index": 0, "logprobs": None, "finish_reason": finish}
        return json_response(
            {**base, "choices": [choice], "usage": usage, "system_fingerprint": FINGERPRINT}
        )
    options = body.get("stream_options")
    include_usage = isinstance(options, dict) and options.get("include_usage") is True

    def events() -> Iterator[Event]:
        extra = {"usage": None} if include_usage else {}
        for piece in plan.pieces:
            choice = {"text": piece, "index": 0, "logprobs": None, "finish_reason": None}
            yield b"data: " + orjson.dumps({**base, "choices": [choice], **extra}) + b"\n\n", True
        last = {"text": "", "index": 0, "logprobs": None, "finish_reason": finish}
        yield b"data: " + orjson.dumps({**base, "choices": [last], **extra}) + b"\n\n", False
        if include_usage:
            yield b"data: " + orjson.dumps({**base, "choices": [], "usage": usage}) + b"\n\n", False
        yield DONE, False

    return await run_stream(request, knobs, events())
