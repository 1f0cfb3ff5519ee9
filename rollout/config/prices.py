"""The price table a config prices calls with: the bundled table, overridden by `observe.prices`."""

from __future__ import annotations

from rollout.config.model import Config
from rollout.quality.pricing import PriceTable, default_price_table


def price_table(config: Config) -> PriceTable:
    return default_price_table().with_overrides(
        {name: p.model_dump(exclude_none=True) for name, p in config.observe.prices.items()}
    )
