"""Deterministic output generation: words, splitting, JSON from schemas, token estimates."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy.fake_provider.text import (
    count_words,
    json_text,
    split_pieces,
    truncate_json,
    value_for,
    word_pieces,
)

_LEAF = st.sampled_from(
    [
        {"type": "string"},
        {"type": "integer", "minimum": 3, "maximum": 9},
        {"type": "number"},
        {"type": "boolean"},
        {"type": "string", "format": "email"},
        {"type": "string", "enum": ["a", "b"]},
        {"type": ["string", "null"]},
    ]
)
_SCHEMA = st.recursive(
    _LEAF,
    lambda inner: st.one_of(
        st.builds(lambda items: {"type": "array", "items": items, "minItems": 2}, inner),
        st.dictionaries(st.text("abcdefgh", min_size=1, max_size=5), inner, max_size=4).map(
            lambda props: {"type": "object", "properties": props, "required": sorted(props)}
        ),
    ),
    max_leaves=8,
)


@given(st.integers(0, 10_000), st.integers(1, 300))
def test_word_pieces_count_and_shape(start: int, n: int) -> None:
    pieces = word_pieces(start, n)
    assert len(pieces) == n
    assert pieces[0][0].isupper() and not pieces[0].startswith(" ")
    assert all(p.startswith(" ") for p in pieces[1:])
    assert pieces[-1].endswith(".")
    assert len("".join(pieces).split()) == n
    assert word_pieces(start, n) == pieces


@given(st.text(min_size=0, max_size=200), st.integers(1, 50))
def test_split_pieces_rejoins(text: str, n: int) -> None:
    pieces = split_pieces(text, n)
    assert "".join(pieces) == text
    assert len(pieces) == max(1, min(n, len(text)))


@given(_SCHEMA, st.integers(0, 2**32))
def test_value_for_schema_is_json_and_fills_required(schema: dict, key: int) -> None:
    value = json.loads(json_text(schema, key, 5))
    if schema.get("type") == "object":
        assert set(value) == set(schema["required"])
    if schema.get("type") == "array":
        assert isinstance(value, list) and len(value) == 2
    if schema.get("type") == "integer":
        assert 3 <= value <= 9


@given(_SCHEMA.filter(lambda s: s.get("type") == "object"), st.integers(0, 2**32))
def test_truncated_json_never_parses(schema: dict, key: int) -> None:
    text = json_text(schema, key, 5)
    with pytest.raises(json.JSONDecodeError):
        json.loads(truncate_json(text))


def test_refs_combinators_and_formats() -> None:
    schema = {
        "type": "object",
        "$defs": {"Item": {"type": "object", "properties": {"sku": {"type": "string"}}}},
        "properties": {
            "item": {"$ref": "#/$defs/Item"},
            "maybe": {"anyOf": [{"type": "null"}, {"type": "integer", "minimum": 5}]},
            "at": {"type": "string", "format": "date-time"},
            "fixed": {"const": "x"},
            "merged": {"allOf": [{"properties": {"a": {"type": "boolean"}}}, {"required": ["a"]}]},
        },
        "required": ["item", "maybe", "at", "fixed", "merged"],
    }
    value = value_for(schema, 3)
    assert isinstance(value["item"]["sku"], str)
    assert isinstance(value["maybe"], int) and value["maybe"] >= 5
    assert value["at"] == "2024-05-17T12:00:00Z"
    assert value["fixed"] == "x"
    assert isinstance(value["merged"]["a"], bool)


def test_json_without_schema_is_an_answer_object() -> None:
    value = json.loads(json_text(None, 1, 6))
    assert list(value) == ["answer"] and len(value["answer"].split()) == 6


def test_count_words_walks_messages_but_skips_roles_and_ids() -> None:
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "three more words"}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "ok"},
    ]
    assert count_words(messages) == 6
    assert count_words(None) == 0
