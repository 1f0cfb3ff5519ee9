"""USD cost of one call from its normalised `Usage` and a per-model price table.

Prices are USD per million tokens. An unknown model costs `None` ("unpriced"), never 0: a gate
comparing cost per 1k requests must not see a candidate on an unpriced model as free.

Model name matching (first rule that finds a configured name wins):
  1. the exact name, e.g. `gpt-4o-mini`;
  2. the name without a trailing date suffix, `-YYYY-MM-DD` or `-YYYYMMDD`, e.g.
     `gpt-4o-2024-08-06` → `gpt-4o`, `claude-sonnet-4-5-20250929` → `claude-sonnet-4-5`;
  3. the longest configured name that is a prefix of the model name followed by `-`, e.g.
     `claude-3-5-haiku-latest` → `claude-3-5-haiku`, `gpt-4.1-mini-foo` → `gpt-4.1-mini`
     (not `gpt-4.1`).
Rule 3 prices an unlisted variant like its family (`gpt-4o-audio-preview` as `gpt-4o`), which
may be wrong; list such variants explicitly (config overrides win) when their price differs.
Matching is case-sensitive, like the providers' model ids.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rollout.quality.usage import Usage

# Anthropic bills a (5-minute) cache write at 1.25 x the input price.
CACHE_WRITE_FACTOR = 1.25

_DATE_SUFFIX = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8})$")

# The resolved-name cache is keyed by model names seen in traffic; a client can send arbitrary
# names, so the cache is bounded (cleared when full) rather than allowed to grow forever.
_MAX_CACHED_NAMES = 1024


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """USD per million tokens. `cached_input` defaults to `input` (no cache discount known);
    `cache_write` to 1.25 x `input` (Anthropic's 5-minute cache write price)."""

    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None

    def __post_init__(self) -> None:
        for name in ("input", "output", "cached_input", "cache_write"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name} must be a number of USD per million tokens: {value!r}")
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite price >= 0: {value!r}")

    def rates(self) -> tuple[float, float, float, float]:
        """USD per single token: (input, cached_input, cache_write, output), defaults applied."""
        cached = self.input if self.cached_input is None else self.cached_input
        write = self.input * CACHE_WRITE_FACTOR if self.cache_write is None else self.cache_write
        return (self.input / 1e6, cached / 1e6, write / 1e6, self.output / 1e6)


# List prices, standard tier, as of October 2025 (openai.com/api/pricing,
# anthropic.com/pricing). Not modelled: batch/flex/priority tiers, Anthropic 1-hour cache
# writes (2 x input), Sonnet's >200k-token long-context price. Config overrides win over these.
DEFAULT_PRICES: dict[str, ModelPrice] = {
    # OpenAI chat / reasoning
    "gpt-4o": ModelPrice(input=2.50, output=10.00, cached_input=1.25),
    "gpt-4o-mini": ModelPrice(input=0.15, output=0.60, cached_input=0.075),
    "gpt-4.1": ModelPrice(input=2.00, output=8.00, cached_input=0.50),
    "gpt-4.1-mini": ModelPrice(input=0.40, output=1.60, cached_input=0.10),
    "gpt-4.1-nano": ModelPrice(input=0.10, output=0.40, cached_input=0.025),
    "o3": ModelPrice(input=2.00, output=8.00, cached_input=0.50),
    # Listed so prefix matching does not price them as their (dearer or cheaper) family.
    "o3-mini": ModelPrice(input=1.10, output=4.40, cached_input=0.55),
    "o3-pro": ModelPrice(input=20.00, output=80.00),
    "o4-mini": ModelPrice(input=1.10, output=4.40, cached_input=0.275),
    "gpt-5": ModelPrice(input=1.25, output=10.00, cached_input=0.125),
    "gpt-5-mini": ModelPrice(input=0.25, output=2.00, cached_input=0.025),
    "gpt-5-nano": ModelPrice(input=0.05, output=0.40, cached_input=0.005),
    "gpt-5-pro": ModelPrice(input=15.00, output=120.00),
    # OpenAI embeddings (input only)
    "text-embedding-3-small": ModelPrice(input=0.02, output=0.0),
    "text-embedding-3-large": ModelPrice(input=0.13, output=0.0),
    # Anthropic: cache reads 0.1 x input, 5-minute cache writes 1.25 x input
    "claude-opus-4-1": ModelPrice(input=15.00, output=75.00, cached_input=1.50, cache_write=18.75),
    "claude-sonnet-4-5": ModelPrice(input=3.00, output=15.00, cached_input=0.30, cache_write=3.75),
    "claude-haiku-4-5": ModelPrice(input=1.00, output=5.00, cached_input=0.10, cache_write=1.25),
    "claude-3-5-haiku": ModelPrice(input=0.80, output=4.00, cached_input=0.08, cache_write=1.00),
}

_PRICE_KEYS = frozenset({"input", "output", "cached_input", "cache_write"})


class PriceTable:
    """Model name → price, with name resolution (see the module docstring) cached per name."""

    __slots__ = ("_by_prefix", "_prices", "_resolved")

    def __init__(self, prices: Mapping[str, ModelPrice]) -> None:
        self._prices: dict[str, tuple[ModelPrice, tuple[float, float, float, float]]] = {
            name: (price, price.rates()) for name, price in prices.items()
        }
        # Longest first, so the first prefix hit is the longest match.
        self._by_prefix = sorted(self._prices, key=len, reverse=True)
        self._resolved: dict[str, tuple[ModelPrice, tuple[float, float, float, float]] | None] = {}

    @property
    def prices(self) -> dict[str, ModelPrice]:
        return {name: entry[0] for name, entry in self._prices.items()}

    def _lookup(self, model: str) -> tuple[ModelPrice, tuple[float, float, float, float]] | None:
        try:
            return self._resolved[model]
        except KeyError:
            pass
        entry = self._resolve(model)
        if len(self._resolved) >= _MAX_CACHED_NAMES:
            self._resolved.clear()
        self._resolved[model] = entry
        return entry

    def _resolve(self, model: str) -> tuple[ModelPrice, tuple[float, float, float, float]] | None:
        entry = self._prices.get(model)
        if entry is not None:
            return entry
        undated = _DATE_SUFFIX.sub("", model)
        entry = self._prices.get(undated)
        if entry is not None:
            return entry
        for name in self._by_prefix:
            if len(undated) > len(name) and undated.startswith(name) and undated[len(name)] == "-":
                return self._prices[name]
        return None

    def price_for(self, model: str) -> ModelPrice | None:
        """The price that applies to `model`, or None when it is not priced."""
        if not model:
            return None
        entry = self._lookup(model)
        return None if entry is None else entry[0]

    def cost(self, model: str, usage: Usage) -> float | None:
        """USD cost of `usage` on `model`; None when the model is not priced."""
        if not model:
            return None
        entry = self._lookup(model)
        if entry is None:
            return None
        r_in, r_cached, r_write, r_out = entry[1]
        # reasoning_tokens are inside output_tokens already: not added again.
        return (
            usage.input_tokens * r_in
            + usage.cached_input_tokens * r_cached
            + usage.cache_write_tokens * r_write
            + usage.output_tokens * r_out
        )

    def with_overrides(self, overrides: Mapping[str, Mapping[str, Any]]) -> PriceTable:
        """A new table: this one plus config entries, which replace same-named ones whole.

        An entry is `{input, output[, cached_input][, cache_write]}`; its omitted fields take the
        ModelPrice defaults, not the replaced entry's values, so an override means what it says.
        Raises ValueError naming the model on an unknown key, a missing key or a bad number.
        """
        merged = dict(self.prices)
        for name, spec in overrides.items():
            if not isinstance(spec, Mapping):
                raise ValueError(f"price for {name!r} must be a mapping, got {spec!r}")
            unknown = set(spec) - _PRICE_KEYS
            if unknown:
                raise ValueError(f"price for {name!r}: unknown keys {sorted(unknown)}")
            missing = {"input", "output"} - set(spec)
            if missing:
                raise ValueError(f"price for {name!r}: missing {sorted(missing)}")
            try:
                merged[name] = ModelPrice(**spec)
            except ValueError as exc:
                raise ValueError(f"price for {name!r}: {exc}") from exc
        return PriceTable(merged)


def default_price_table() -> PriceTable:
    """A table of the bundled DEFAULT_PRICES; apply config with `.with_overrides(...)`."""
    return PriceTable(DEFAULT_PRICES)
