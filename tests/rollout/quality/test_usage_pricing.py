"""Usage normalisation per provider shape, and cost from the price table (hand-computed)."""

from __future__ import annotations

import pytest

from rollout.quality.pricing import DEFAULT_PRICES, ModelPrice, PriceTable, default_price_table
from rollout.quality.usage import Usage

# --- Usage ---------------------------------------------------------------------------------


def test_openai_chat_subtracts_cached_tokens_from_prompt_tokens() -> None:
    usage = Usage.from_openai_chat(
        {
            "prompt_tokens": 1200,
            "completion_tokens": 300,
            "total_tokens": 1500,
            "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 128},
        }
    )
    assert usage == Usage(
        input_tokens=176, cached_input_tokens=1024, output_tokens=300, reasoning_tokens=128
    )
    assert usage.total_input_tokens == 1200
    assert usage.total_tokens == 1500


def test_openai_chat_without_details_and_embeddings_shape() -> None:
    assert Usage.from_openai_chat({"prompt_tokens": 9, "completion_tokens": 12}) == Usage(
        input_tokens=9, output_tokens=12
    )
    # Embeddings: prompt_tokens and total_tokens only.
    assert Usage.from_openai_chat({"prompt_tokens": 8, "total_tokens": 8}) == Usage(input_tokens=8)
    # Null details objects, as some compatible servers send.
    assert Usage.from_openai_chat(
        {"prompt_tokens": 5, "completion_tokens": 1, "prompt_tokens_details": None}
    ) == Usage(input_tokens=5, output_tokens=1)


def test_openai_responses_shape() -> None:
    usage = Usage.from_openai_responses(
        {
            "input_tokens": 2000,
            "input_tokens_details": {"cached_tokens": 1536},
            "output_tokens": 700,
            "output_tokens_details": {"reasoning_tokens": 512},
            "total_tokens": 2700,
        }
    )
    assert usage == Usage(
        input_tokens=464, cached_input_tokens=1536, output_tokens=700, reasoning_tokens=512
    )


def test_anthropic_input_tokens_already_exclude_the_cache() -> None:
    usage = Usage.from_anthropic(
        {
            "input_tokens": 50,
            "cache_read_input_tokens": 4000,
            "cache_creation_input_tokens": 1000,
            "output_tokens": 250,
        }
    )
    assert usage == Usage(
        input_tokens=50, cached_input_tokens=4000, cache_write_tokens=1000, output_tokens=250
    )


def test_anthropic_stream_merges_message_start_then_cumulative_message_delta() -> None:
    usage = Usage.from_anthropic(
        {
            "input_tokens": 472,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 2048,
            "output_tokens": 1,
        }
    )
    usage.merge_anthropic({"output_tokens": 15})
    usage.merge_anthropic({"output_tokens": 89})  # cumulative, so replaces, never adds
    assert usage == Usage(input_tokens=472, cached_input_tokens=2048, output_tokens=89)
    # A newer message_delta repeats the input counts; null means "not reported", not zero.
    usage.merge_anthropic({"input_tokens": 472, "cache_read_input_tokens": None})
    assert usage == Usage(input_tokens=472, cached_input_tokens=2048, output_tokens=89)


@pytest.mark.parametrize(
    "raw",
    [None, {}, [], "usage", {"prompt_tokens": None, "completion_tokens": "12"}],
)
def test_missing_or_malformed_usage_reads_as_zero(raw: object) -> None:
    empty = Usage()
    assert Usage.from_openai_chat(raw) == empty  # type: ignore[arg-type]
    assert Usage.from_openai_responses(raw) == empty  # type: ignore[arg-type]
    assert Usage.from_anthropic(raw) == empty  # type: ignore[arg-type]


def test_bad_numbers_are_clamped_not_propagated() -> None:
    usage = Usage.from_openai_chat(
        {
            "prompt_tokens": 10,
            "completion_tokens": -3,
            "prompt_tokens_details": {"cached_tokens": 25},  # more than the prompt: clamp
            "completion_tokens_details": {"reasoning_tokens": True},
        }
    )
    assert usage == Usage(input_tokens=0, cached_input_tokens=10)
    assert Usage.from_anthropic({"input_tokens": 7.0}).input_tokens == 7


# --- ModelPrice ----------------------------------------------------------------------------


def test_model_price_defaults_for_cache_classes() -> None:
    price = ModelPrice(input=4.0, output=8.0)
    # cached_input = input; cache_write = 1.25 x input; all per token.
    assert price.rates() == (4.0e-6, 4.0e-6, 5.0e-6, 8.0e-6)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"input": -1.0, "output": 1.0},
        {"input": 1.0, "output": float("nan")},
        {"input": "1", "output": 1},
    ],
)
def test_model_price_rejects_bad_numbers(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        ModelPrice(**kwargs)


# --- PriceTable.cost -----------------------------------------------------------------------


def test_cost_of_an_openai_call_with_cache_and_reasoning() -> None:
    table = default_price_table()
    usage = Usage(
        input_tokens=176, cached_input_tokens=1024, output_tokens=300, reasoning_tokens=128
    )
    # gpt-4o: 2.50 in, 1.25 cached, 10.00 out per 1M; reasoning is inside output, not extra.
    # 176·2.50 + 1024·1.25 + 300·10.00 = 440 + 1280 + 3000 = 4720 → 0.00472 USD
    assert table.cost("gpt-4o", usage) == pytest.approx(0.00472, rel=1e-12)


def test_cost_of_an_anthropic_call_with_cache_write_and_read() -> None:
    table = default_price_table()
    usage = Usage(
        input_tokens=50, cached_input_tokens=4000, cache_write_tokens=1000, output_tokens=250
    )
    # claude-sonnet-4-5: 3.00 in, 0.30 read, 3.75 write, 15.00 out per 1M
    # 50·3 + 4000·0.30 + 1000·3.75 + 250·15 = 150 + 1200 + 3750 + 3750 = 8850 → 0.00885 USD
    assert table.cost("claude-sonnet-4-5-20250929", usage) == pytest.approx(0.00885, rel=1e-12)


def test_cost_of_embeddings_is_input_only() -> None:
    # 1,000,000 tokens of text-embedding-3-small at 0.02 per 1M
    cost = default_price_table().cost("text-embedding-3-small", Usage(input_tokens=1_000_000))
    assert cost == pytest.approx(0.02, rel=1e-12)


def test_unknown_or_empty_model_is_unpriced_not_free() -> None:
    table = default_price_table()
    assert table.cost("llama-3-70b", Usage(input_tokens=10)) is None
    assert table.cost("", Usage(input_tokens=10)) is None
    assert table.price_for("gpt") is None  # a prefix of a known name is not a match
    assert table.cost("gpt-4o", Usage()) == 0.0  # priced, and nothing was used


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-4o", "gpt-4o"),  # exact
        ("gpt-4o-2024-08-06", "gpt-4o"),  # dashed date suffix
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),  # date suffix on the longer name
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),  # compact date suffix
        ("claude-3-5-haiku-latest", "claude-3-5-haiku"),  # prefix followed by "-"
        ("gpt-4.1-mini-preview", "gpt-4.1-mini"),  # the longest prefix, not gpt-4.1
        ("gpt-5-nano", "gpt-5-nano"),  # listed, so not priced as gpt-5
        ("o3-mini-2025-01-31", "o3-mini"),
        ("gpt-4oo", None),  # a prefix must be followed by "-"
        ("GPT-4o", None),  # model ids are case-sensitive
    ],
)
def test_model_name_matching(model: str, expected: str | None) -> None:
    table = default_price_table()
    assert table.price_for(model) is (DEFAULT_PRICES[expected] if expected else None)
    assert table.price_for(model) is table.price_for(model)  # second lookup from the cache


def test_overrides_win_and_replace_whole_entries() -> None:
    table = default_price_table().with_overrides(
        {
            "gpt-4o": {"input": 2.0, "output": 6.0},
            "my-finetune": {"input": 1.0, "output": 2.0, "cached_input": 0.5, "cache_write": 0.0},
        }
    )
    # The override has no cached_input, so it defaults to the new input (2.0), not the old 1.25.
    # 1000·2.0 + 1000·2.0 + 1000·6.0 = 10000 per 1M → 0.01
    usage = Usage(input_tokens=1000, cached_input_tokens=1000, output_tokens=1000)
    assert table.cost("gpt-4o-2024-11-20", usage) == pytest.approx(0.01, rel=1e-12)
    # 100·1.0 + 100·0.5 + 100·0.0 + 100·2.0 = 350 per 1M
    usage = Usage(
        input_tokens=100, cached_input_tokens=100, cache_write_tokens=100, output_tokens=100
    )
    assert table.cost("my-finetune", usage) == pytest.approx(350e-6, rel=1e-12)
    # The defaults themselves are untouched.
    assert default_price_table().price_for("gpt-4o") == DEFAULT_PRICES["gpt-4o"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"input": 1.0}, "missing"),
        ({"input": 1.0, "output": 1.0, "cache_read": 0.1}, "unknown keys"),
        ({"input": -1.0, "output": 1.0}, ">= 0"),
        ([1.0, 2.0], "mapping"),
    ],
)
def test_bad_overrides_name_the_model(spec: object, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        default_price_table().with_overrides({"m-1": spec})  # type: ignore[dict-item]
    assert "'m-1'" in str(info.value)


def test_name_cache_is_bounded() -> None:
    table = PriceTable({"a": ModelPrice(1.0, 1.0)})
    for i in range(5000):
        table.price_for(f"a-{i}")
    assert len(table._resolved) <= 1024
    assert table.price_for("a-99999") is not None
