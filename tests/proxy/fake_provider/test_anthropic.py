"""The fake provider's Anthropic Messages API, through the official anthropic SDK."""

from __future__ import annotations

import json
from collections.abc import Iterator

import anthropic
import pytest

from proxy.fake_provider import build_app
from tests.support.servers import RunningServer, serve_in_thread

MODEL = "claude-haiku-4-5"
MESSAGES = [{"role": "user", "content": "Describe a blue green deployment"}]
TOOL = {
    "name": "get_stock",
    "description": "Stock level of a product",
    "input_schema": {
        "type": "object",
        "properties": {
            "sku": {"type": "string"},
            "warehouse": {"type": "string", "enum": ["north", "south"]},
            "count": {"type": "integer", "minimum": 0, "maximum": 10},
        },
        "required": ["sku", "warehouse", "count"],
    },
}
TEXT_EVENTS = [
    "message_start",
    "content_block_start",
    "ping",
    *["content_block_delta"] * 4,
    "content_block_stop",
    "message_delta",
    "message_stop",
]


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with serve_in_thread(build_app) as srv:
        yield srv


@pytest.fixture
def client(server: RunningServer) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=server.url, api_key="sk-ant-test", max_retries=0) as c:
        yield c


def test_plain_message(client: anthropic.Anthropic) -> None:
    message = client.messages.create(
        model=MODEL, max_tokens=100, system="Be brief.", messages=MESSAGES
    )
    assert message.type == "message" and message.role == "assistant"
    assert message.id.startswith("msg_")
    assert message.model == MODEL
    assert message.stop_reason == "end_turn"
    (block,) = message.content
    assert block.type == "text" and len(block.text.split()) == 16
    assert message.usage.input_tokens == 7
    assert message.usage.output_tokens == 16
    assert message.usage.cache_read_input_tokens == 0


def test_stream_event_sequence_in_order(client: anthropic.Anthropic) -> None:
    stream = client.messages.create(
        model=MODEL,
        max_tokens=100,
        messages=MESSAGES,
        stream=True,
        extra_headers={"x-fake-output-tokens": "4"},
    )
    events = list(stream)
    # The SDK drops `ping` events, so read the wire order from the raw stream below.
    assert [e.type for e in events] == [t for t in TEXT_EVENTS if t != "ping"]
    start = events[0].message
    assert start.usage.input_tokens == 5 and start.content == []
    text = "".join(e.delta.text for e in events if e.type == "content_block_delta")
    assert len(text.split()) == 4
    assert events[-2].delta.stop_reason == "end_turn"
    assert events[-2].usage.output_tokens == 4
    with client.messages.with_streaming_response.create(
        model=MODEL,
        max_tokens=100,
        messages=MESSAGES,
        stream=True,
        extra_headers={"x-fake-output-tokens": "4"},
    ) as raw:
        wire = [
            line.removeprefix("event: ") for line in raw.iter_lines() if line.startswith("event:")
        ]
    assert wire == TEXT_EVENTS


def test_stream_helper_text(client: anthropic.Anthropic) -> None:
    with client.messages.stream(model=MODEL, max_tokens=100, messages=MESSAGES) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert final.content[0].text == text
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 16


def test_tool_use_plain_and_streamed(client: anthropic.Anthropic) -> None:
    message = client.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES, tools=[TOOL])
    assert message.stop_reason == "tool_use"
    (block,) = message.content
    assert block.type == "tool_use" and block.name == "get_stock"
    assert block.id.startswith("toolu_")
    assert set(block.input) == {"sku", "warehouse", "count"}
    assert block.input["warehouse"] in ("north", "south")
    assert 0 <= block.input["count"] <= 10
    with client.messages.stream(
        model=MODEL, max_tokens=100, messages=MESSAGES, tools=[TOOL]
    ) as stream:
        partial = [
            e.delta.partial_json
            for e in stream
            if e.type == "content_block_delta" and e.delta.type == "input_json_delta"
        ]
        final = stream.get_final_message()
    assert len(partial) == 16
    assert final.content[0].input == json.loads("".join(partial))
    assert final.stop_reason == "tool_use"


def test_tool_choice_none_gives_text(client: anthropic.Anthropic) -> None:
    message = client.messages.create(
        model=MODEL, max_tokens=100, messages=MESSAGES, tools=[TOOL], tool_choice={"type": "none"}
    )
    assert message.stop_reason == "end_turn" and message.content[0].type == "text"


def test_refusal_stop_reason(client: anthropic.Anthropic) -> None:
    message = client.messages.create(
        model=MODEL, max_tokens=100, messages=MESSAGES, extra_headers={"x-fake-refuse": "1"}
    )
    assert message.stop_reason == "refusal"
    assert message.content[0].text == "I'm sorry, but I can't help with that."
    with client.messages.stream(
        model=MODEL, max_tokens=100, messages=MESSAGES, extra_headers={"x-fake-refuse": "1"}
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "refusal"


def test_max_tokens_stop_reason(client: anthropic.Anthropic) -> None:
    message = client.messages.create(model=MODEL, max_tokens=3, messages=MESSAGES)
    assert message.stop_reason == "max_tokens"
    assert len(message.content[0].text.split()) == 3
    assert message.usage.output_tokens == 3


def test_structured_output_is_json(client: anthropic.Anthropic) -> None:
    schema = {
        "type": "object",
        "properties": {"risk": {"type": "string", "enum": ["low", "high"]}},
        "required": ["risk"],
        "additionalProperties": False,
    }
    message = client.messages.create(
        model=MODEL,
        max_tokens=100,
        messages=MESSAGES,
        extra_body={"output_config": {"format": {"type": "json_schema", "schema": schema}}},
    )
    assert json.loads(message.content[0].text)["risk"] in ("low", "high")


@pytest.mark.parametrize(
    ("status", "exc", "kind"),
    [
        (429, anthropic.RateLimitError, "rate_limit_error"),
        (500, anthropic.InternalServerError, "api_error"),
        (529, anthropic.InternalServerError, "overloaded_error"),
        (400, anthropic.BadRequestError, "invalid_request_error"),
    ],
)
def test_errors_raise_the_sdk_exception(
    client: anthropic.Anthropic, status: int, exc: type[Exception], kind: str
) -> None:
    with pytest.raises(exc) as info:
        client.messages.create(
            model=MODEL,
            max_tokens=100,
            messages=MESSAGES,
            extra_headers={"x-fake-error-status": str(status)},
        )
    assert info.value.status_code == status
    assert info.value.body["type"] == "error"
    assert info.value.body["error"]["type"] == kind


def test_errors_on_stream_request(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.RateLimitError):
        client.messages.create(
            model=MODEL,
            max_tokens=100,
            messages=MESSAGES,
            stream=True,
            extra_headers={"x-fake-error-status": "429"},
        )


def test_models_list_anthropic_shape(client: anthropic.Anthropic) -> None:
    page = client.models.list()
    ids = [model.id for model in page.data]
    assert MODEL in ids
    assert all(model.type == "model" and model.display_name for model in page.data)
    assert page.has_more is False


async def test_async_messages(server: RunningServer) -> None:
    async with anthropic.AsyncAnthropic(
        base_url=server.url, api_key="sk-ant-test", max_retries=0
    ) as client:
        message = await client.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES)
        async with client.messages.stream(model=MODEL, max_tokens=100, messages=MESSAGES) as stream:
            types = [event.type async for event in stream]
            final = await stream.get_final_message()
        assert final.content[0].text == message.content[0].text
        assert types[0] == "message_start" and types[-1] == "message_stop"
        with pytest.raises(anthropic.InternalServerError):
            await client.messages.create(
                model=MODEL,
                max_tokens=100,
                messages=MESSAGES,
                extra_headers={"x-fake-error-status": "500"},
            )
