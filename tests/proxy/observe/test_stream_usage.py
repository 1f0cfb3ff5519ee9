"""ask_for_usage, and UsageChunkStripper on the fake provider's real chat streams."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from proxy.observe.sse import SseSplitter
from proxy.observe.stream_usage import UsageChunkStripper, ask_for_usage

FIXTURES = Path(__file__).parent / "fixtures"
WITH_USAGE = ["chat_stream_usage.sse", "chat_tools_stream.sse", "chat_length_stream.sse"]
USAGE_ON = {"include_usage": True}
WITHOUT_USAGE = ["chat_stream_no_usage.sse", "chat_refuse_schema_stream.sse"]


@pytest.mark.parametrize(
    ("payload", "changed", "options"),
    [
        ({"stream": True}, True, {"include_usage": True}),
        ({"stream": True, "stream_options": None}, True, {"include_usage": True}),
        ({"stream": True, "stream_options": {}}, True, {"include_usage": True}),
        (
            {"stream": True, "stream_options": {"include_obfuscation": False}},
            True,
            {"include_obfuscation": False, "include_usage": True},
        ),
        (
            {"stream": True, "stream_options": {"include_usage": False}},
            True,
            {"include_usage": True},
        ),
        (
            {"stream": True, "stream_options": {"include_usage": True}},
            False,
            {"include_usage": True},
        ),
        ({"stream": False}, False, None),
        ({}, False, None),
        ({"stream": "true"}, False, None),
    ],
)
def test_ask_for_usage(payload: dict, changed: bool, options: dict | None) -> None:
    assert ask_for_usage(payload) is changed
    assert payload.get("stream_options") == options


def _events(raw: bytes) -> list[tuple[bytes, bytes]]:
    return list(SseSplitter().feed(raw))


def _is_usage_only(event: tuple[bytes, bytes]) -> bool:
    if event[1] == b"[DONE]":
        return False
    chunk = orjson.loads(event[1])
    return chunk["choices"] == [] and chunk["usage"] is not None


def _strip(chunks: list[bytes]) -> bytes:
    stripper = UsageChunkStripper()
    return b"".join(stripper(c) for c in chunks) + stripper.flush()


def _splits(raw: bytes):
    yield [raw]
    for at in range(1, len(raw)):
        yield [raw[:at], raw[at:]]
    yield [raw[i : i + 1] for i in range(len(raw))]


@pytest.mark.parametrize("name", WITH_USAGE)
def test_usage_chunk_and_null_usages_removed_exactly(name: str) -> None:
    """What is left is the stream without include_usage: no usage chunk, no `"usage":null`."""
    raw = (FIXTURES / name).read_bytes()
    original = _events(raw)
    assert sum(map(_is_usage_only, original)) == 1
    want_bytes = b"".join(
        block + b"\n\n" for block in raw.split(b"\n\n") if block and b'"choices":[]' not in block
    ).replace(b',"usage":null', b"")
    for chunks in _splits(raw):
        assert _strip(chunks) == want_bytes, len(chunks)


@pytest.mark.parametrize("name", WITHOUT_USAGE)
def test_stream_without_usage_passes_through_identical(name: str) -> None:
    raw = (FIXTURES / name).read_bytes()
    for chunks in _splits(raw):
        assert _strip(chunks) == raw


def test_whole_event_chunks_without_usage_are_passed_without_copy() -> None:
    stripper = UsageChunkStripper()
    chunk = b'data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n'
    assert stripper(chunk) is chunk


def test_usage_alongside_choices_is_kept() -> None:
    """Only a chunk with `choices: []` is the extra one; usage on a content chunk stays."""
    chunk = (
        b'data: {"choices":[{"index":0,"delta":{"content":"x"}}],"usage":{"total_tokens":3}}\n\n'
    )
    assert _strip([chunk]) == chunk


def test_flush_returns_a_trailing_partial_event() -> None:
    stripper = UsageChunkStripper()
    assert stripper(b'data: {"choices":[]}\n\ndata: [DO') == b'data: {"choices":[]}\n\n'
    assert stripper.flush() == b"data: [DO"
    assert stripper.flush() == b""


def test_flush_returns_an_unterminated_usage_chunk_unchanged() -> None:
    """A usage chunk that never got its blank line is not known complete: it is passed on."""
    tail = b'data: {"choices":[],"usage":{"total_tokens":3}}'
    stripper = UsageChunkStripper()
    assert stripper(tail) == b""
    assert stripper.flush() == tail
