"""Golden wire-format fixtures through each API's observer, fed whole, split in two at every byte
offset, and one byte at a time: the Observation must be identical and exact every time."""

from __future__ import annotations

import dataclasses
import gzip
from pathlib import Path

import pytest

from proxy.observe.anthropic_messages import AnthropicObserver
from proxy.observe.base import Observation, Observer
from proxy.observe.openai_chat import OpenAIChatObserver
from proxy.observe.openai_responses import OpenAIResponsesObserver
from proxy.observe.sse import SseSplitter
from rollout.quality.usage import Usage

FIXTURES = Path(__file__).parent / "fixtures"
CAFE = "café — 東京 "
REFUSED = "I'm sorry, but I can't help with that."
WEATHER = "get_weather"


def _u(inp: int, out: int, cached: int = 0) -> Usage:
    return Usage(input_tokens=inp, cached_input_tokens=cached, output_tokens=out)


# fixture -> (observer, usage, finish_reason, truncated, provider_refusal, text, tool_calls, error)
CASES: dict[str, tuple[type[Observer], Usage | None, str | None, bool, bool, str, list, bool]] = {
    # OpenAI chat
    "chat.json": (
        OpenAIChatObserver, _u(1, 6), "stop", False, False,
        CAFE + "So teams ship changes safely measure.", [], False,
    ),
    "chat_stream_usage.sse": (
        OpenAIChatObserver, _u(1, 6), "stop", False, False,
        CAFE + "So teams ship changes safely measure.", [], False,
    ),
    "chat_stream_no_usage.sse": (
        OpenAIChatObserver, None, "stop", False, False,
        CAFE + "So teams ship changes safely measure.", [], False,
    ),
    "chat_tools.json": (
        OpenAIChatObserver, _u(1, 6), "tool_calls", False, False, "",
        [(WEATHER, '{"city":"teams ship changes safely","days":10}')], False,
    ),
    "chat_tools_stream.sse": (
        OpenAIChatObserver, _u(1, 6), "tool_calls", False, False, "",
        [(WEATHER, '{"city":"teams ship changes safely","days":10}')], False,
    ),
    "chat_json_mode.json": (
        OpenAIChatObserver, _u(1, 6), "stop", False, False,
        '{"answer":"so teams ship changes safely measure"}', [], False,
    ),
    "chat_json_mode_stream.sse": (
        OpenAIChatObserver, _u(1, 6), "stop", False, False,
        '{"answer":"so teams ship changes safely measure"}', [], False,
    ),
    "chat_json_invalid.json": (
        OpenAIChatObserver, _u(1, 6), "stop", False, False, '{"answer":"so teams ship', [], False,
    ),
    "chat_length_stream.sse": (
        OpenAIChatObserver, _u(1, 3), "length", True, False, CAFE + "So teams ship", [], False,
    ),
    "chat_refuse.json": (OpenAIChatObserver, _u(1, 8), "stop", False, False, REFUSED, [], False),
    "chat_refuse_schema_stream.sse": (
        OpenAIChatObserver, None, "stop", False, True, "", [], False,
    ),
    "chat_content_filter.json": (
        OpenAIChatObserver, _u(12, 5), "content_filter", False, True,
        "Here is the start of", [], False,
    ),
    "chat_content_filter_stream.sse": (
        OpenAIChatObserver, _u(4, 2, cached=8), "content_filter", False, True, "Here is", [],
        False,
    ),
    "chat_error_stream.sse": (OpenAIChatObserver, None, None, False, False, "Partial", [], True),
    # OpenAI Responses
    "responses.json": (
        OpenAIResponsesObserver, _u(1, 6), "completed", False, False,
        CAFE + "And keep users happy today the.", [], False,
    ),
    "responses_stream.sse": (
        OpenAIResponsesObserver, _u(1, 6), "completed", False, False,
        CAFE + "And keep users happy today the.", [], False,
    ),
    "responses_length.json": (
        OpenAIResponsesObserver, _u(1, 3), "max_output_tokens", True, False,
        CAFE + "And keep users", [], False,
    ),
    "responses_tools_stream.sse": (
        OpenAIResponsesObserver, _u(1, 6), "completed", False, False, "",
        [(WEATHER, '{"city":"keep users happy today","days":47}')], False,
    ),
    "responses_refuse.json": (
        OpenAIResponsesObserver, _u(1, 8), "completed", False, True, "", [], False,
    ),
    "responses_refuse_stream.sse": (
        OpenAIResponsesObserver, _u(1, 8), "completed", False, True, "", [], False,
    ),
    "responses_error_stream.sse": (
        OpenAIResponsesObserver, None, None, False, False, "Hi", [], True,
    ),
    # Anthropic messages
    "anthropic.json": (
        AnthropicObserver, _u(1, 6), "end_turn", False, False,
        CAFE + "Every small step counts toward steady.", [], False,
    ),
    "anthropic_stream.sse": (
        AnthropicObserver, _u(1, 6), "end_turn", False, False,
        CAFE + "Every small step counts toward steady.", [], False,
    ),
    "anthropic_length_stream.sse": (
        AnthropicObserver, _u(1, 3), "max_tokens", True, False,
        CAFE + "Every small step", [], False,
    ),
    "anthropic_tools.json": (
        AnthropicObserver, _u(1, 6), "tool_use", False, False, "",
        [(WEATHER, '{"city":"small step counts","days":45}')], False,
    ),
    "anthropic_tools_stream.sse": (
        AnthropicObserver, _u(1, 6), "tool_use", False, False, "",
        [(WEATHER, '{"city":"small step counts","days":45}')], False,
    ),
    "anthropic_refuse_stream.sse": (
        AnthropicObserver, _u(1, 8), "refusal", False, True, REFUSED, [], False,
    ),
    "anthropic_refusal.json": (
        AnthropicObserver, _u(20, 1, cached=100), "refusal", False, True, "I", [], False,
    ),
    "anthropic_error_stream.sse": (
        AnthropicObserver, _u(25, 1), None, False, False, "Hello", [], True,
    ),
}  # fmt: skip


def expected(name: str) -> Observation:
    _, usage, finish, truncated, refusal, text, tools, error = CASES[name]
    return Observation(
        status=200,
        usage=usage,
        finish_reason=finish,
        truncated=truncated,
        provider_refusal=refusal,
        text_start=text,
        output_chars=len(text),
        content=text,
        tool_calls=tools,
        unparsable=0,
        error_event=error,
    )


def observe(name: str, chunks: list[bytes], encoding: str | None = None) -> Observation:
    observer = CASES[name][0](streaming=name.endswith(".sse"), capture=True)
    observer.start(200, encoding)
    for chunk in chunks:
        observer.feed(chunk)
    return observer.finish()


def comparable(obs: Observation, streaming: bool) -> Observation:
    """first_token_at is a clock reading: a stream with content must have one; zero it."""
    if streaming and (obs.output_chars or obs.tool_calls or obs.provider_refusal):
        assert obs.first_token_at is not None
    return dataclasses.replace(obs, first_token_at=None)


def splits(raw: bytes):
    yield "whole", [raw]
    for at in range(1, len(raw)):
        yield f"split@{at}", [raw[:at], raw[at:]]
    yield "bytewise", [raw[i : i + 1] for i in range(len(raw))]


def test_every_fixture_has_a_case() -> None:
    on_disk = {p.name for p in FIXTURES.iterdir() if p.suffix in (".sse", ".json")}
    assert on_disk == set(CASES)


def test_fixtures_cut_multibyte_characters() -> None:
    """Several fixtures hold non-ASCII text, so the byte splits below cut UTF-8 characters."""
    with_cafe = [n for n in CASES if CAFE.encode() in (FIXTURES / n).read_bytes()]
    assert len(with_cafe) >= 8


@pytest.mark.parametrize("name", sorted(CASES))
def test_observation_is_exact_for_every_split(name: str) -> None:
    raw = (FIXTURES / name).read_bytes()
    streaming = name.endswith(".sse")
    want = expected(name)
    for how, chunks in splits(raw):
        got = comparable(observe(name, chunks), streaming)
        assert got == want, f"{name} fed {how}"


@pytest.mark.parametrize("name", sorted(n for n in CASES if n.endswith(".sse")))
def test_crlf_line_ends_give_the_same_observation(name: str) -> None:
    raw = (FIXTURES / name).read_bytes().replace(b"\n", b"\r\n")
    want = expected(name)
    for how, chunks in splits(raw):
        if how.startswith("split@") and int(how[6:]) % 7:
            continue  # every 7th offset (and the CR|LF cuts among them) keeps this fast
        assert comparable(observe(name, chunks), True) == want, f"{name} fed {how}"
    for at in [i + 1 for i in range(len(raw)) if raw[i : i + 1] == b"\r"]:  # every CR|LF cut
        assert comparable(observe(name, [raw[:at], raw[at:]]), True) == want, at


def test_gzip_body_split_anywhere() -> None:
    raw = (FIXTURES / "chat.json.gz").read_bytes()
    assert gzip.decompress(raw) == (FIXTURES / "chat.json").read_bytes()
    want = expected("chat.json")
    for how, chunks in splits(raw):
        got = comparable(observe("chat.json", chunks, encoding="gzip"), False)
        assert got == want, how


def test_error_status_is_not_analysed() -> None:
    observer = OpenAIChatObserver(streaming=False, capture=True)
    observer.start(429, None)
    observer.feed(b'{"error":{"message":"rate limited","type":"rate_limit_error"}}')
    obs = observer.finish()
    assert (obs.status, obs.usage, obs.unparsable, obs.text_start) == (429, None, 0, "")


def test_capture_off_keeps_no_content() -> None:
    observer = AnthropicObserver(streaming=True, capture=False)
    observer.start(200, None)
    observer.feed((FIXTURES / "anthropic_stream.sse").read_bytes())
    obs = observer.finish()
    assert obs.content is None
    assert obs.text_start == CAFE + "Every small step counts toward steady."


@pytest.mark.parametrize(
    ("body", "unparsable"),
    [
        (b"not json", 1),
        (b'{"choices":[{"message":{"content":"x"}', 1),  # cut short
        (b"[1, 2]", 0),  # JSON, but not an object: ignored
        (b"", 0),  # no body at all
    ],
)
def test_unparsable_bodies(body: bytes, unparsable: int) -> None:
    observer = OpenAIChatObserver(streaming=False, capture=False)
    observer.start(200, None)
    observer.feed(body)
    obs = observer.finish()
    assert (obs.unparsable, obs.usage, obs.text_start) == (unparsable, None, "")


def test_unparsable_stream_event_is_counted_and_skipped() -> None:
    observer = OpenAIChatObserver(streaming=True, capture=False)
    observer.start(200, None)
    observer.feed(b'data: {"choices":[{"index":0,"delta":{"content":"a"}}]}\n\n')
    observer.feed(b"data: {oops\n\n")
    observer.feed(b'data: {"choices":[{"index":0,"delta":{"content":"b"}}]}\n\n')
    observer.feed(b"data: [DONE]\n\n")
    obs = observer.finish()
    assert (obs.unparsable, obs.text_start) == (1, "ab")


def test_only_the_first_choice_counts() -> None:
    observer = OpenAIChatObserver(streaming=True, capture=True)
    observer.start(200, None)
    observer.feed(
        b'data: {"choices":[{"index":1,"delta":{"content":"other"},"finish_reason":"length"},'
        b'{"index":0,"delta":{"content":"first"},"finish_reason":"stop"}]}\n\n'
    )
    obs = observer.finish()
    assert (obs.text_start, obs.finish_reason, obs.truncated) == ("first", "stop", False)


def test_text_start_is_capped() -> None:
    observer = OpenAIChatObserver(streaming=True, capture=True)
    observer.start(200, None)
    for _ in range(100):
        observer.feed(b'data: {"choices":[{"index":0,"delta":{"content":"abcde"}}]}\n\n')
    obs = observer.finish()
    assert obs.text_start == "abcde" * 40
    assert obs.output_chars == 500
    assert obs.content == "abcde" * 100


@pytest.mark.parametrize(
    ("block", "event"),
    [
        (b'data: {"a":1}', (b"", b'{"a":1}')),
        (b"event: ping\ndata: {}", (b"ping", b"{}")),
        (b"data:no-space", (b"", b"no-space")),
        (b"data: line1\ndata: line2", (b"", b"line1\nline2")),
        (b": comment\ndata: x", (b"", b"x")),
        (b"id: 7\nevent: e\nretry: 10\ndata: y", (b"e", b"y")),
    ],
)
def test_sse_event_fields(block: bytes, event: tuple[bytes, bytes]) -> None:
    assert list(SseSplitter().feed(block + b"\n\n")) == [event]


def test_sse_splitter_holds_an_incomplete_event() -> None:
    sse = SseSplitter()
    assert list(sse.feed(b"data: 1\n\ndata: 2\n")) == [(b"", b"1")]
    assert list(sse.feed(b"\r")) == []
    assert list(sse.feed(b"\ndata: 3\r\n\r\n")) == [(b"", b"2"), (b"", b"3")]
