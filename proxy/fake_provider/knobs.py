"""Resolve the knobs for one request: the model's behaviour, `x-fake-*` headers, seeded draws.

Random draws (error, refusal, invalid JSON) come from one `random.Random(seed)` per behaviour,
owned by the app, so a given sequence of requests always gets the same outcomes. A draw is only
made when its rate is strictly between 0 and 1.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass

from proxy.fake_provider.settings import FakeSettings, ModelBehaviour


class KnobError(ValueError):
    """An `x-fake-*` header carries a value that cannot be used."""


@dataclass(slots=True)
class Knobs:
    latency: float
    ttft: float
    inter_chunk: float
    output_tokens: int
    error_status: int | None
    refuse: bool
    invalid_json: bool
    hang: bool
    reset_after: int | None
    stall_after: int | None
    cached_ratio: float
    reasoning_tokens: int
    embedding_dimensions: int
    seed: int
    echo: bool
    degrade_share: float
    judge: bool = False
    judge_flip_share: float = 0.0
    judge_first_bias: bool = False


def _draw(rng: random.Random, rate: float) -> bool:
    if rate <= 0.0:
        return False
    if rate >= 1.0:
        return True
    return rng.random() < rate


def _seconds(headers: Mapping[str, str], name: str, fallback: float) -> float:
    raw = headers.get(name)
    if raw is None:
        return fallback
    try:
        value = float(raw)
    except ValueError:
        raise KnobError(f"header {name}: {raw!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise KnobError(f"header {name}: {raw!r} must be a finite number >= 0")
    return value


def _count(headers: Mapping[str, str], name: str, fallback: int | None, low: int) -> int | None:
    raw = headers.get(name)
    if raw is None:
        return fallback
    try:
        value = int(raw)
    except ValueError:
        raise KnobError(f"header {name}: {raw!r} is not an integer") from None
    if value < low:
        raise KnobError(f"header {name}: {raw!r} must be >= {low}")
    return value


def _flag(headers: Mapping[str, str], name: str) -> bool | None:
    raw = headers.get(name)
    if raw is None:
        return None
    return raw.strip().lower() not in ("0", "false", "no", "off", "")


class Behaviours:
    """The effective behaviour of each model, and one seeded RNG per behaviour."""

    def __init__(self, settings: FakeSettings) -> None:
        self.replace(settings)

    def replace(self, settings: FakeSettings) -> None:
        """Switch to new settings in place (the RNGs restart from their seeds)."""
        by_model = settings.effective()
        rngs: dict[str | None, random.Random] = {None: random.Random(settings.default.seed)}
        for name, behaviour in by_model.items():
            rngs[name] = random.Random(behaviour.seed)
        self.settings, self.default, self.by_model, self._rngs = (
            settings,
            settings.default,
            by_model,
            rngs,
        )

    def behaviour(self, model: object) -> tuple[str | None, ModelBehaviour]:
        if isinstance(model, str):
            found = self.by_model.get(model)
            if found is not None:
                return model, found
        return None, self.default

    def resolve(self, model: object, headers: Mapping[str, str]) -> Knobs:
        key, b = self.behaviour(model)
        rng = self._rngs[key]
        status = _count(headers, "x-fake-error-status", None, 400)
        if status is not None and status > 599:
            raise KnobError(f"header x-fake-error-status: {status} must be in 400..599")
        if status is None and _draw(rng, b.error_rate):
            status = b.error_status
        refuse = _flag(headers, "x-fake-refuse")
        invalid = _flag(headers, "x-fake-invalid-json")
        hang = _flag(headers, "x-fake-hang")
        return Knobs(
            latency=_seconds(headers, "x-fake-latency", b.latency),
            ttft=_seconds(headers, "x-fake-ttft", b.ttft),
            inter_chunk=_seconds(headers, "x-fake-inter-chunk", b.inter_chunk),
            output_tokens=_count(headers, "x-fake-output-tokens", b.output_tokens, 1),  # type: ignore[arg-type]
            error_status=status,
            refuse=_draw(rng, b.refusal_rate) if refuse is None else refuse,
            invalid_json=_draw(rng, b.invalid_json_rate) if invalid is None else invalid,
            hang=b.hang if hang is None else hang,
            reset_after=_count(headers, "x-fake-reset-after-chunks", b.reset_after_chunks, 0),
            stall_after=_count(headers, "x-fake-stall-after-chunks", b.stall_after_chunks, 0),
            cached_ratio=b.cached_ratio,
            reasoning_tokens=b.reasoning_tokens,
            embedding_dimensions=b.embedding_dimensions,
            seed=b.seed,
            echo=b.echo,
            degrade_share=b.degrade_share,
            judge=b.judge,
            judge_flip_share=b.judge_flip_share,
            judge_first_bias=b.judge_first_bias,
        )
