"""UsageChunkStripper gives back, byte for byte, the stream the upstream sends without
include_usage: the `"usage":null` member the injection added to every chunk goes, whatever the
JSON spacing and the member's position, and wherever the chunk boundaries fall."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any
from unittest import mock

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.fake_provider.openai_chat import chat_events
from proxy.fake_provider.plan import Plan
from proxy.observe.stream_usage import UsageChunkStripper

WORDS = ["Hello", " café", " 東京", ' "usage":null', " —", "}\n\n", " done", "."]
SHAPES = {
    "text": (Plan("text", WORDS, "stop", 12, 0, 0), False),
    "tool": (Plan("tool", ['{"city":', '"Paris"}'], "tool", 12, 0, 0, "get_weather"), False),
    "refusal": (Plan("refusal", ["I can't", " help."], "refusal", 12, 0, 0), True),
    "length": (Plan("text", WORDS[:3], "length", 12, 0, 0), False),
}


def _reshape(event: bytes, dump: Callable[[dict[str, Any]], bytes], order: str) -> bytes:
    """The same event as another OpenAI-compatible server might write it."""
    if not event.startswith(b"data: {"):
        return event
    doc = orjson.loads(event[6:])
    if order == "usage_first" and "usage" in doc:
        doc = {"usage": doc.pop("usage"), **doc}
    if order == "obfuscation":  # OpenAI's newer chunks: a string member after usage
        doc["obfuscation"] = "aZ9"
    prefix = b"data:" if order == "no_space" else b"data: "
    return prefix + dump(doc) + b"\n\n"


VARIANTS: dict[str, Callable[[bytes], bytes]] = {
    "openai": lambda e: e,
    "spaced": lambda e: _reshape(e, lambda d: json.dumps(d, ensure_ascii=False).encode(), ""),
    "usage_first": lambda e: _reshape(e, orjson.dumps, "usage_first"),
    "spaced_usage_first": lambda e: _reshape(e, lambda d: json.dumps(d).encode(), "usage_first"),
    "obfuscation": lambda e: _reshape(e, orjson.dumps, "obfuscation"),
    "no_space": lambda e: _reshape(e, orjson.dumps, "no_space"),
}


def _stream(shape: str, variant: str, include_usage: bool) -> bytes:
    plan, schema_mode = SHAPES[shape]
    with mock.patch("os.urandom", lambda n: b"\x07" * n):  # the same tool call id both times
        events = chat_events(plan, "chatcmpl-abc", 1_700_000_000, "m", include_usage, schema_mode)
        return b"".join(VARIANTS[variant](data) for data, _ in events)


def _strip(chunks: list[bytes]) -> bytes:
    stripper = UsageChunkStripper()
    return b"".join(stripper(c) for c in chunks) + stripper.flush()


def _cut(raw: bytes, cuts: list[int]) -> list[bytes]:
    points = [0, *sorted({c % (len(raw) + 1) for c in cuts}), len(raw)]
    return [raw[a:b] for a, b in itertools.pairwise(points)]


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_one_event_per_chunk_gives_the_stream_without_usage(shape: str, variant: str) -> None:
    with_usage, without = _stream(shape, variant, True), _stream(shape, variant, False)
    assert with_usage.count(b'"usage"') > without.count(b'"usage"')  # the fixture is real
    events = [e + b"\n\n" for e in with_usage.split(b"\n\n")[:-1]]
    assert _strip(events) == without


@settings(max_examples=300, deadline=None)
@given(
    shape=st.sampled_from(sorted(SHAPES)),
    variant=st.sampled_from(sorted(VARIANTS)),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=40),
)
def test_any_chunk_boundaries_give_the_stream_without_usage(
    shape: str, variant: str, cuts: list[int]
) -> None:
    with_usage = _stream(shape, variant, True)
    assert _strip(_cut(with_usage, cuts)) == _stream(shape, variant, False)


UNRECOGNISED = [
    # nested, not the top-level member the injection adds
    b'data: {"choices":[{"index":0,"delta":{},"usage":null}]}\n\n',
    # two candidates: which one was added cannot be told without parsing
    b'data: {"usage":null,"choices":[],"x":{"usage":null}}\n\n',
    # unusual spacing around the colon
    b'data: {"choices":[],"usage" : null}\n\n',
    b'data: {"choices":[],"usage":  null}\n\n',
    # the only member: removing it would leave an empty object the upstream never sent
    b'data: {"usage":null}\n\n',
    # a nested object after the member: not provably top-level without a parse
    b'data: {"choices":[],"usage":null,"x":{"y":1}}\n\n',
    # not the first data line of the event
    b'data: {"a":\ndata: {"usage":null,"b":1}}\n\n',
    # a value that is not null, on a chunk that still has choices
    b'data: {"choices":[{"index":0}],"usage":{"total_tokens":3}}\n\n',
]


@pytest.mark.parametrize("event", UNRECOGNISED)
def test_events_not_recognised_byte_exactly_pass_unchanged(event: bytes) -> None:
    assert _strip([event]) == event
    assert _strip([event[:7], event[7:]]) == event
