"""Token usage of one LLM call, normalised across OpenAI and Anthropic.

The providers count the same things differently: OpenAI's `prompt_tokens` / `input_tokens`
*include* cache reads, Anthropic's `input_tokens` *exclude* cache reads and cache writes. Pricing
needs each class of token once, so `Usage.input_tokens` always means "billed at the normal input
price" and the cached classes sit beside it. Reasoning tokens are already inside the output count
on both providers (and billed as output), so `reasoning_tokens` is informational only.

Usage objects arrive from untrusted JSON on the proxy's hot path: every constructor tolerates
missing keys, `None`, wrong types and negative numbers (all read as 0) rather than raising.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


def _int(value: Any) -> int:
    """A token count from a JSON value: non-negative int, anything else reads as 0."""
    # bool is an int subclass; `true` is never a token count.
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value if value > 0 else 0
    if isinstance(value, float) and value.is_integer() and value > 0:
        return int(value)
    return 0


def _sub(mapping: Any, key: str) -> Mapping[str, Any]:
    """A nested details object, or an empty mapping when absent/null/not an object."""
    if isinstance(mapping, Mapping):
        inner = mapping.get(key)
        if isinstance(inner, Mapping):
            return inner
    return {}


def _as_mapping(usage: Any) -> Mapping[str, Any]:
    return usage if isinstance(usage, Mapping) else {}


@dataclass(slots=True)
class Usage:
    """Normalised token counts of one call.

    input_tokens:        input billed at the normal input price (cache reads/writes excluded)
    cached_input_tokens: input served from the prompt cache (cache reads)
    cache_write_tokens:  input written to the prompt cache (Anthropic cache creation)
    output_tokens:       all output, reasoning included
    reasoning_tokens:    the part of output_tokens spent on reasoning (informational)
    """

    input_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_input_tokens(self) -> int:
        """Every input token, whatever its price class."""
        return self.input_tokens + self.cached_input_tokens + self.cache_write_tokens

    @property
    def total_tokens(self) -> int:
        return self.total_input_tokens + self.output_tokens

    @classmethod
    def from_openai_chat(cls, usage: Mapping[str, Any] | None) -> Usage:
        """From Chat Completions (or Embeddings) `usage`.

        `prompt_tokens` includes `prompt_tokens_details.cached_tokens`, so the cached part is
        subtracted to get the tokens billed at the full input price.
        """
        u = _as_mapping(usage)
        prompt = _int(u.get("prompt_tokens"))
        # Clamp: a cached count above the prompt count is a provider bug, not negative tokens.
        cached = min(_int(_sub(u, "prompt_tokens_details").get("cached_tokens")), prompt)
        output = _int(u.get("completion_tokens"))
        reasoning = _int(_sub(u, "completion_tokens_details").get("reasoning_tokens"))
        return cls(
            input_tokens=prompt - cached,
            cached_input_tokens=cached,
            output_tokens=output,
            reasoning_tokens=reasoning,
        )

    @classmethod
    def from_openai_responses(cls, usage: Mapping[str, Any] | None) -> Usage:
        """From Responses API `usage`.

        `input_tokens` includes `input_tokens_details.cached_tokens`, as in Chat Completions.
        """
        u = _as_mapping(usage)
        total_input = _int(u.get("input_tokens"))
        cached = min(_int(_sub(u, "input_tokens_details").get("cached_tokens")), total_input)
        return cls(
            input_tokens=total_input - cached,
            cached_input_tokens=cached,
            output_tokens=_int(u.get("output_tokens")),
            reasoning_tokens=_int(_sub(u, "output_tokens_details").get("reasoning_tokens")),
        )

    @classmethod
    def from_anthropic(cls, usage: Mapping[str, Any] | None) -> Usage:
        """From Anthropic Messages `usage`: `input_tokens` already excludes both cache classes."""
        result = cls()
        result.merge_anthropic(usage)
        return result

    def merge_anthropic(self, usage: Mapping[str, Any] | None) -> None:
        """Update from a later Anthropic usage object, in place.

        A stream sends `message_start.message.usage` (input and cache counts, output so far) and
        then `message_delta.usage`, whose `output_tokens` is cumulative, not an increment. Newer
        API versions repeat the input counts there too. So a field present and non-null replaces
        the current value; an absent or null field keeps it.
        """
        u = _as_mapping(usage)
        if u.get("input_tokens") is not None:
            self.input_tokens = _int(u["input_tokens"])
        if u.get("cache_read_input_tokens") is not None:
            self.cached_input_tokens = _int(u["cache_read_input_tokens"])
        if u.get("cache_creation_input_tokens") is not None:
            self.cache_write_tokens = _int(u["cache_creation_input_tokens"])
        if u.get("output_tokens") is not None:
            self.output_tokens = _int(u["output_tokens"])
