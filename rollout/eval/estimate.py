"""A cost estimate printed before the first call: an upper bound from each request's size and
its output-token limit, priced per arm's model. None when a model has no price."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from rollout.config.rollouts import Rollout
from rollout.quality.pricing import PriceTable
from rollout.quality.usage import Usage

CHARS_PER_TOKEN = 4  # a rough rule for English text; the estimate is a bound, not a bill
DEFAULT_OUTPUT_TOKENS = 1024  # when a request sets no limit
_LIMIT_FIELDS = ("max_completion_tokens", "max_tokens", "max_output_tokens")


def output_limit(request: Mapping[str, Any]) -> int:
    for name in _LIMIT_FIELDS:
        value = request.get(name)
        if isinstance(value, int) and value > 0:
            return value
    return DEFAULT_OUTPUT_TOKENS


def arm_model(rollout: Rollout, arm: str, request: Mapping[str, Any]) -> str | None:
    model = getattr(rollout, arm).model or request.get("model")
    return model if isinstance(model, str) else None


def estimate_cost(
    requests: Iterable[Mapping[str, Any]], rollout: Rollout, prices: PriceTable, repeat: int
) -> float | None:
    total = 0.0
    for request in requests:
        input_tokens = len(orjson.dumps(request)) // CHARS_PER_TOKEN
        for arm in ("baseline", "candidate"):
            prompt = getattr(rollout, arm).prompt
            extra = len(prompt.text) // CHARS_PER_TOKEN if prompt is not None else 0
            model = arm_model(rollout, arm, request)
            usage = Usage(input_tokens=input_tokens + extra, output_tokens=output_limit(request))
            cost = prices.cost(model, usage) if model is not None else None
            if cost is None:
                return None
            total += cost * repeat
    return total
