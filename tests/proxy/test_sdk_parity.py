"""The official SDKs see the same thing through the proxy as from the provider directly: the same
parsed objects, the same stream of events, the same exceptions."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import openai
import pytest

from tests.support.proxy import serve_proxy
from tests.support.servers import RunningServer

# Fields that differ between two calls by nature (ids, clocks), not because of the proxy.
VOLATILE = {
    "id",
    "item_id",
    "created",
    "created_at",
    "completed_at",
    "system_fingerprint",
    "_request_id",
}


@pytest.fixture(scope="module")
def proxy(fake: RunningServer) -> Iterator[RunningServer]:
    config = f"""
providers:
  openai: {{kind: openai, base_url: "{fake.url}/v1"}}
  claude: {{kind: anthropic, base_url: "{fake.url}"}}
routes:
  - {{prefix: /v1, provider: openai}}
  - {{prefix: /anthropic, provider: claude}}
"""
    with serve_proxy(config) as server:
        yield server


def _scrub(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        value = value.model_dump()
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def _openai(base: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base + "/v1", api_key="sk-test", max_retries=0, timeout=10)


def _anthropic(base: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=base, api_key="sk-ant-test", max_retries=0, timeout=10)


MESSAGES = [{"role": "user", "content": "Say something about releases."}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]

OPENAI_CALLS: dict[str, Callable[[openai.OpenAI], Any]] = {
    "chat": lambda c: c.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES),
    "chat_stream_usage": lambda c: list(
        c.chat.completions.create(
            model="gpt-4o-mini",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
    ),
    "chat_tools": lambda c: c.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, tools=TOOLS
    ),
    "chat_tools_stream": lambda c: list(
        c.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, tools=TOOLS, stream=True)
    ),
    "chat_json_mode": lambda c: c.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, response_format={"type": "json_object"}
    ),
    "responses": lambda c: c.responses.create(model="gpt-4o-mini", input="hello"),
    "responses_stream": lambda c: list(
        c.responses.create(model="gpt-4o-mini", input="hello", stream=True)
    ),
    "embeddings": lambda c: c.embeddings.create(model="text-embedding-3-small", input="hi"),
    "models": lambda c: list(c.models.list()),
}

ANTHROPIC_CALLS: dict[str, Callable[[anthropic.Anthropic], Any]] = {
    "messages": lambda c: c.messages.create(
        model="claude-haiku-4-5", max_tokens=200, messages=MESSAGES
    ),
    "messages_stream": lambda c: list(
        c.messages.create(model="claude-haiku-4-5", max_tokens=200, messages=MESSAGES, stream=True)
    ),
    "messages_tools": lambda c: c.messages.create(
        model="claude-haiku-4-5",
        max_tokens=200,
        messages=MESSAGES,
        tools=[{"name": "get_weather", "input_schema": TOOLS[0]["function"]["parameters"]}],
    ),
    "stream_helper_text": lambda c: _anthropic_stream_text(c),
}


def _anthropic_stream_text(client: anthropic.Anthropic) -> str:
    with client.messages.stream(
        model="claude-haiku-4-5", max_tokens=200, messages=MESSAGES
    ) as stream:
        return "".join(stream.text_stream)


@pytest.mark.parametrize("name", sorted(OPENAI_CALLS))
def test_openai_sdk_sees_the_same_through_the_proxy(
    name: str, fake: RunningServer, proxy: RunningServer
) -> None:
    direct = OPENAI_CALLS[name](_openai(fake.url))
    proxied = OPENAI_CALLS[name](_openai(proxy.url))
    assert _scrub(proxied) == _scrub(direct)
    assert _scrub(direct)  # non-empty: a real answer was compared


@pytest.mark.parametrize("name", sorted(ANTHROPIC_CALLS))
def test_anthropic_sdk_sees_the_same_through_the_proxy(
    name: str, fake: RunningServer, proxy: RunningServer
) -> None:
    direct = ANTHROPIC_CALLS[name](_anthropic(fake.url))
    proxied = ANTHROPIC_CALLS[name](_anthropic(proxy.url + "/anthropic"))
    assert _scrub(proxied) == _scrub(direct)
    assert _scrub(direct)


def test_stream_event_sequences_match_in_order(fake: RunningServer, proxy: RunningServer) -> None:
    def types(base: str) -> list[str]:
        client = _anthropic(base)
        stream = client.messages.create(
            model="claude-haiku-4-5", max_tokens=50, messages=MESSAGES, stream=True
        )
        return [event.type for event in stream]

    direct, proxied = types(fake.url), types(proxy.url + "/anthropic")
    assert proxied == direct
    assert direct[0] == "message_start" and direct[-1] == "message_stop"


async def test_async_clients_through_the_proxy(fake: RunningServer, proxy: RunningServer) -> None:
    oa = openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key="sk", max_retries=0)
    chunks = [
        c
        async for c in await oa.chat.completions.create(
            model="gpt-4o-mini",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
    ]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    an = anthropic.AsyncAnthropic(base_url=proxy.url + "/anthropic", api_key="k", max_retries=0)
    message = await an.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=MESSAGES)
    assert message.content[0].type == "text" and message.usage.output_tokens > 0
    await oa.close()
    await an.close()


@pytest.mark.parametrize(
    ("status", "openai_error", "anthropic_error"),
    [
        (400, openai.BadRequestError, anthropic.BadRequestError),
        (429, openai.RateLimitError, anthropic.RateLimitError),
        (500, openai.InternalServerError, anthropic.InternalServerError),
    ],
)
def test_provider_errors_reach_the_sdk_as_the_same_exception(
    proxy: RunningServer, status: int, openai_error: type, anthropic_error: type
) -> None:
    knob = {"x-fake-error-status": str(status)}
    with pytest.raises(openai_error) as oe:
        _openai(proxy.url).chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, extra_headers=knob
        )
    assert oe.value.status_code == status
    with pytest.raises(anthropic_error) as ae:
        _anthropic(proxy.url + "/anthropic").messages.create(
            model="claude-haiku-4-5", max_tokens=10, messages=MESSAGES, extra_headers=knob
        )
    assert ae.value.status_code == status


def test_proxy_errors_reach_the_sdk_as_typed_exceptions(
    fake: RunningServer, proxy: RunningServer
) -> None:
    with pytest.raises(openai.NotFoundError, match="no route for /v2/chat/completions"):
        openai.OpenAI(
            base_url=proxy.url + "/v2", api_key="sk", max_retries=0
        ).chat.completions.create(model="m", messages=MESSAGES)
    config = f"""
providers:
  openai: {{base_url: "{fake.url}/v1", timeouts: {{first_byte: 0.3}}}}
  claude: {{kind: anthropic, base_url: "{fake.url}", timeouts: {{first_byte: 0.3}}}}
routes: [{{prefix: /v1, provider: openai}}, {{prefix: /anthropic, provider: claude}}]
"""
    hang = {"x-fake-hang": "1"}
    with serve_proxy(config) as short:
        with pytest.raises(openai.InternalServerError, match="first byte timeout") as oe:
            _openai(short.url).chat.completions.create(
                model="gpt-4o-mini", messages=MESSAGES, extra_headers=hang
            )
        assert oe.value.status_code == 504
        with pytest.raises(anthropic.APIStatusError, match="first byte timeout") as ae:
            _anthropic(short.url + "/anthropic").messages.create(
                model="claude-haiku-4-5", max_tokens=10, messages=MESSAGES, extra_headers=hang
            )
        assert ae.value.status_code == 504


def test_sse_chunks_are_relayed_as_they_arrive(proxy: RunningServer) -> None:
    client = _openai(proxy.url)
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        stream=True,
        extra_headers={"x-fake-inter-chunk": "0.1", "x-fake-output-tokens": "8"},
    )
    arrivals = [time.monotonic() for chunk in stream if chunk.choices and chunk.choices[0].delta]
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    # Each content chunk arrives on its own, about 0.1 s after the previous: no buffering.
    assert len(arrivals) >= 8
    assert sum(1 for g in gaps if g > 0.05) >= 6, gaps
