"""The fake provider's chat/completions and legacy completions, through the official openai SDK."""

from __future__ import annotations

import json
from collections.abc import Iterator

import openai
import pytest

from proxy.fake_provider import build_app
from tests.support.servers import RunningServer, serve_in_thread

MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Name three rivers in Europe"},
]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
            },
            "required": ["city", "unit", "days"],
        },
    },
}


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with serve_in_thread(build_app) as srv:
        yield srv


@pytest.fixture
def client(server: RunningServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.url + "/v1", api_key="sk-test", max_retries=0) as c:
        yield c


def test_plain_chat_has_text_finish_stop_and_usage(client: openai.OpenAI) -> None:
    result = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    choice = result.choices[0]
    assert result.object == "chat.completion"
    assert result.model == "gpt-4o-mini"
    assert result.id.startswith("chatcmpl-")
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    words = choice.message.content.split()
    assert len(words) == 16  # default output_tokens
    assert choice.message.content.endswith(".")
    usage = result.usage
    assert usage.prompt_tokens == 8  # words in the two messages
    assert usage.completion_tokens == 16
    assert usage.total_tokens == 24
    assert usage.prompt_tokens_details.cached_tokens == 0
    assert usage.completion_tokens_details.reasoning_tokens == 0


def test_same_request_gives_same_answer(client: openai.OpenAI) -> None:
    first = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    second = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    other = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert first.choices[0].message.content == second.choices[0].message.content
    assert first.choices[0].message.content != other.choices[0].message.content


def test_stream_with_include_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
        extra_headers={"x-fake-output-tokens": "10"},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    content = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content) == 10
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert [c.choices[0].finish_reason for c in finals] == ["stop"]
    last = chunks[-1]
    assert last.choices == []
    assert last.usage.completion_tokens == 10
    assert last.usage.prompt_tokens == 8
    assert all(c.usage is None for c in chunks[:-1])
    text = "".join(c.choices[0].delta.content for c in content)
    assert len(text.split()) == 10


def test_stream_without_include_usage_has_no_usage_chunk(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    )
    assert all(c.choices for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks)


def test_tool_call_not_streamed(client: openai.OpenAI) -> None:
    result = client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, tools=[WEATHER_TOOL]
    )
    choice = result.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    (call,) = choice.message.tool_calls
    assert call.id.startswith("call_")
    assert call.function.name == "get_weather"
    args = json.loads(call.function.arguments)
    assert set(args) == {"city", "unit", "days"}
    assert args["unit"] in ("celsius", "fahrenheit")
    assert 1 <= args["days"] <= 7
    assert isinstance(args["city"], str) and args["city"]


def test_named_tool_choice_and_tool_without_parameters(client: openai.OpenAI) -> None:
    ping = {"type": "function", "function": {"name": "ping"}}
    result = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        tools=[WEATHER_TOOL, ping],
        tool_choice={"type": "function", "function": {"name": "ping"}},
    )
    call = result.choices[0].message.tool_calls[0]
    assert call.function.name == "ping"
    assert json.loads(call.function.arguments) == {}


def test_tool_choice_none_gives_text(client: openai.OpenAI) -> None:
    result = client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, tools=[WEATHER_TOOL], tool_choice="none"
    )
    assert result.choices[0].finish_reason == "stop"
    assert result.choices[0].message.tool_calls is None
    assert result.choices[0].message.content


def test_tool_call_streamed_as_fragments(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=MESSAGES,
            tools=[WEATHER_TOOL],
            stream=True,
            extra_headers={"x-fake-output-tokens": "6"},
        )
    )
    calls = [c.choices[0].delta.tool_calls for c in chunks if c.choices[0].delta.tool_calls]
    first = calls[0][0]
    assert first.index == 0 and first.id.startswith("call_")
    assert first.function.name == "get_weather" and first.function.arguments == ""
    fragments = [tc[0].function.arguments for tc in calls[1:]]
    assert len(fragments) == 6
    assert all(tc[0].id is None and tc[0].index == 0 for tc in calls[1:])
    assert set(json.loads("".join(fragments))) == {"city", "unit", "days"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_stream_helper_accumulates_tool_call(client: openai.OpenAI) -> None:
    with client.chat.completions.stream(
        model="gpt-4o-mini", messages=MESSAGES, tools=[WEATHER_TOOL]
    ) as stream:
        final = stream.get_final_completion()
    call = final.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments)["unit"] in ("celsius", "fahrenheit")


def test_json_object_mode_content_parses(client: openai.OpenAI) -> None:
    result = client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, response_format={"type": "json_object"}
    )
    value = json.loads(result.choices[0].message.content)
    assert isinstance(value, dict) and value


def test_json_schema_fills_required_properties(client: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "score": {"type": "number", "minimum": 0, "maximum": 1},
            "tags": {"type": "array", "items": {"type": "string"}},
            "when": {"type": "string", "format": "date"},
            "ok": {"type": "boolean"},
            "optional": {"type": "string"},
        },
        "required": ["title", "score", "tags", "when", "ok"],
        "additionalProperties": False,
    }
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        stream=True,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "Review", "schema": schema, "strict": True},
        },
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    value = json.loads(text)
    assert set(value) == {"title", "score", "tags", "when", "ok"}
    assert 0 <= value["score"] <= 1
    assert isinstance(value["tags"], list) and all(isinstance(t, str) for t in value["tags"])
    assert value["when"] == "2024-05-17"
    assert isinstance(value["ok"], bool)


def test_max_tokens_truncates_with_finish_length(client: openai.OpenAI) -> None:
    result = client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, max_completion_tokens=5
    )
    assert result.choices[0].finish_reason == "length"
    assert len(result.choices[0].message.content.split()) == 5
    assert result.usage.completion_tokens == 5
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, max_tokens=3, stream=True
        )
    )
    assert sum(1 for c in chunks if c.choices[0].delta.content) == 3
    assert chunks[-1].choices[0].finish_reason == "length"


def test_refusal_plain_and_json_schema(client: openai.OpenAI) -> None:
    refuse = {"x-fake-refuse": "1"}
    plain = client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, extra_headers=refuse
    )
    assert plain.choices[0].message.content == "I'm sorry, but I can't help with that."
    schema_format = {
        "type": "json_schema",
        "json_schema": {"name": "X", "schema": {"type": "object", "properties": {}}},
    }
    structured = client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, response_format=schema_format, extra_headers=refuse
    )
    message = structured.choices[0].message
    assert message.content is None
    assert message.refusal == "I'm sorry, but I can't help with that."
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=MESSAGES,
            response_format=schema_format,
            stream=True,
            extra_headers=refuse,
        )
    )
    streamed = "".join(c.choices[0].delta.refusal or "" for c in chunks)
    assert streamed == "I'm sorry, but I can't help with that."


async def test_async_client_plain_and_stream(server: RunningServer) -> None:
    async with openai.AsyncOpenAI(
        base_url=server.url + "/v1", api_key="sk-test", max_retries=0
    ) as client:
        result = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        assert result.choices[0].finish_reason == "stop"
        stream = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
        text, usage = "", None
        async for chunk in stream:
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
            usage = chunk.usage or usage
        assert text == result.choices[0].message.content
        assert usage is not None and usage.completion_tokens == 16


def test_legacy_completions_plain_and_stream(client: openai.OpenAI) -> None:
    result = client.completions.create(
        model="gpt-3.5-turbo-instruct", prompt="Say hello to the world", max_tokens=4
    )
    assert result.object == "text_completion"
    assert result.choices[0].finish_reason == "length"
    assert len(result.choices[0].text.split()) == 4
    assert result.usage.prompt_tokens == 5
    chunks = list(
        client.completions.create(
            model="gpt-3.5-turbo-instruct",
            prompt="Say hello",
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[-1].usage.completion_tokens == 16
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert "".join(c.choices[0].text for c in chunks if c.choices).count(" ") == 15


def test_bad_request_is_openai_shaped(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="gpt-4o-mini", messages=[])
    assert info.value.status_code == 400
    assert info.value.body["type"] == "invalid_request_error"
    assert "messages" in info.value.body["message"]
