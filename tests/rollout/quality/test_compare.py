from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollout.quality.compare import (
    MAX_WORDS,
    SideResult,
    Thresholds,
    compare,
    disagreements,
    length_ratio,
    normalize_finish,
    similarity,
)


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("stop", "stop"),
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("completed", "stop"),
        ("length", "length"),
        ("max_tokens", "length"),
        ("max_output_tokens", "length"),
        ("tool_calls", "tool_calls"),
        ("function_call", "tool_calls"),
        ("tool_use", "tool_calls"),
        ("content_filter", "content_filter"),
        ("refusal", "refusal"),
        ("STOP", "stop"),
        ("pause_turn", "pause_turn"),  # unknown: kept, so equal unknowns still agree
        (None, None),
    ],
)
def test_normalize_finish(reason: str | None, expected: str | None) -> None:
    assert normalize_finish(reason) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("the cat sat on the mat", "the cat sat on a mat", 3 / 7),
        ("the cat ate the dog", "the dog ate the cat", 3 / 5),  # same words, order counts some
        ("Hello, World!", "hello   world", 1.0),  # case and punctuation do not count
        ("one two three", "four five six", 0.0),
        ("yes", "yes", 1.0),  # one word: its own shingle
        ("yes", "no", 0.0),
        ("", "", 1.0),
        ("", "something", 0.0),
        ("a b a b a b", "a b", 1 / 2),  # sets: {ab, ba} vs {ab}
    ],
)
def test_similarity_fixed_values(a: str, b: str, expected: float) -> None:
    assert similarity(a, b) == pytest.approx(expected)
    assert similarity(b, a) == pytest.approx(expected)


def test_similarity_only_reads_the_first_max_words() -> None:
    head = " ".join(f"w{i}" for i in range(MAX_WORDS))
    a = head + " " + "tail " * 50_000
    b = head + " " + "different ending " * 50_000
    assert similarity(a, b) == 1.0


@given(st.text(max_size=200), st.text(max_size=200))
def test_similarity_is_a_symmetric_fraction(a: str, b: str) -> None:
    s = similarity(a, b)
    assert 0.0 <= s <= 1.0
    assert s == similarity(b, a)
    assert similarity(a, a) == 1.0


def ok(**kw: object) -> SideResult:
    base: dict[str, object] = {
        "text": "the answer is forty two",
        "output_chars": 23,
        "output_tokens": 5,
        "finish": "stop",
    }
    base.update(kw)
    return SideResult(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (ok(output_tokens=10), ok(output_tokens=25), 2.5),
        (ok(output_tokens=None, output_chars=40), ok(output_tokens=7, output_chars=10), 0.25),
        (ok(output_tokens=0), ok(output_tokens=0), 1.0),
        (ok(output_tokens=0), ok(output_tokens=3), math.inf),
        (ok(output_tokens=3), ok(output_tokens=0), 0.0),
    ],
)
def test_length_ratio_prefers_tokens_when_both_have_them(
    a: SideResult, b: SideResult, expected: float
) -> None:
    assert length_ratio(a, b) == expected


# (a, b, the comparators expected to disagree; every other applicable comparator agrees)
CASES = [
    ("identical", ok(), ok(), set()),
    ("one refuses", ok(), ok(refused=True), {"refusal"}),
    ("both refuse", ok(refused=True), ok(refused=True), set()),
    ("json valid vs not", ok(json_result="valid"), ok(json_result="invalid_json"), {"json"}),
    ("json kinds of invalid", ok(json_result="truncated"), ok(json_result="invalid_json"), set()),
    ("tools differ", ok(tools=("search",)), ok(tools=("calc",)), {"tools"}),
    ("tool order ignored", ok(tools=("a", "b")), ok(tools=("b", "a")), set()),
    ("tool called twice", ok(tools=("a",)), ok(tools=("a", "a")), {"tools"}),
    ("finish differs", ok(), ok(finish="length"), {"finish"}),
    ("twice as long agrees", ok(output_tokens=10), ok(output_tokens=20), set()),
    ("over twice as long", ok(output_tokens=10), ok(output_tokens=21), {"length"}),
    ("under half as long", ok(output_tokens=21), ok(output_tokens=10), {"length"}),
    ("text differs", ok(), ok(text="something else entirely"), {"text"}),
]


@pytest.mark.parametrize(("name", "a", "b", "expected"), CASES, ids=[c[0] for c in CASES])
def test_disagreements_on_crafted_pairs(
    name: str, a: SideResult, b: SideResult, expected: set[str]
) -> None:
    found = disagreements(compare(a, b))
    assert {k for k, v in found.items() if v} == expected
    json_applies = a.json_result is not None and b.json_result is not None
    assert ("json" in found) == json_applies
    assert {"error", "refusal", "tools", "finish", "length", "text"} <= found.keys()


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (ok(error="upstream_5xx"), ok(), {"error": True}),
        (ok(), ok(error="total_timeout"), {"error": True}),
        (ok(error="upstream_5xx"), ok(error="total_timeout"), {"error": False}),
    ],
)
def test_an_error_on_either_side_compares_nothing_else(
    a: SideResult, b: SideResult, expected: dict[str, bool]
) -> None:
    c = compare(a, b)
    assert disagreements(c) == expected
    assert c.refusal_agree is None and c.similarity is None and c.length_ratio is None


def test_text_not_captured_leaves_text_out() -> None:
    found = disagreements(compare(ok(text=None), ok()))
    assert "text" not in found


def test_thresholds_are_configurable() -> None:
    c = compare(ok(text="the cat sat on the mat"), ok(text="the cat sat on a mat"))  # 3/7
    assert disagreements(c)["text"] is False
    assert disagreements(c, Thresholds(similarity_min=0.5))["text"] is True
    c = compare(ok(output_tokens=10), ok(output_tokens=15))
    assert disagreements(c, Thresholds(length_ratio_max=1.4))["length"] is True


@pytest.mark.parametrize(
    ("a", "b", "ttft", "duration", "cost"),
    [
        (ok(ttft=0.2, duration=1.0, cost_usd=0.01), ok(ttft=0.5, duration=0.5, cost_usd=0.03),
         0.3, -0.5, 0.02),
        (ok(ttft=None, duration=1.0), ok(ttft=0.5, duration=None, cost_usd=0.1), None, None, None),
        (ok(error="connect_error", duration=0.1), ok(duration=2.1), None, 2.0, None),
    ],
)  # fmt: skip
def test_deltas_are_b_minus_a(
    a: SideResult,
    b: SideResult,
    ttft: float | None,
    duration: float | None,
    cost: float | None,
) -> None:
    c = compare(a, b)
    for got, want in ((c.ttft_delta, ttft), (c.duration_delta, duration), (c.cost_delta, cost)):
        assert got == (None if want is None else pytest.approx(want))


sides = st.builds(
    SideResult,
    error=st.none() | st.sampled_from(["upstream_5xx", "total_timeout"]),
    refused=st.booleans(),
    json_result=st.none() | st.sampled_from(["valid", "invalid_json", "truncated"]),
    tools=st.lists(st.sampled_from(["a", "b", "c"]), max_size=3).map(tuple),
    finish=st.none() | st.sampled_from(["stop", "length"]),
    text=st.none() | st.text(max_size=80),
    output_chars=st.integers(0, 500),
    output_tokens=st.none() | st.integers(0, 100),
)


@given(sides)
def test_a_side_never_disagrees_with_itself(side: SideResult) -> None:
    assert not any(disagreements(compare(side, side)).values())


@given(sides, sides)
def test_disagreement_is_symmetric(a: SideResult, b: SideResult) -> None:
    assert disagreements(compare(a, b)) == disagreements(compare(b, a))
