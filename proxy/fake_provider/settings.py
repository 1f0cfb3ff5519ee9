"""Behaviour knobs of the fake provider, and loading them from YAML.

`FakeSettings.default` applies to every model; `FakeSettings.models[name]` overrides it for one
exact model name. An override only replaces the fields it sets explicitly, so
`models: {slow-model: {latency: 2}}` keeps the default's `output_tokens`, rates and so on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field


class ModelBehaviour(BaseModel):
    """How one model behaves. Rates are probabilities in [0, 1], times are seconds."""

    model_config = ConfigDict(extra="forbid")

    latency: float = Field(0.0, ge=0, description="delay before a non-streaming response")
    ttft: float = Field(0.0, ge=0, description="delay before a stream's first byte")
    inter_chunk: float = Field(0.0, ge=0, description="delay between content chunks of a stream")
    output_tokens: int = Field(16, ge=1, description="output tokens (words); one chunk each")
    error_rate: float = Field(0.0, ge=0, le=1)
    error_status: int = Field(500, ge=400, le=599)
    refusal_rate: float = Field(0.0, ge=0, le=1)
    invalid_json_rate: float = Field(0.0, ge=0, le=1)
    hang: bool = Field(False, description="accept the request and never answer")
    reset_after_chunks: int | None = Field(None, ge=0, description="abort TCP after N events")
    stall_after_chunks: int | None = Field(None, ge=0, description="go silent after N events")
    cached_ratio: float = Field(0.0, ge=0, le=1, description="share of prompt tokens cached")
    reasoning_tokens: int = Field(0, ge=0, description="hidden tokens added to output usage")
    embedding_dimensions: int = Field(1536, ge=1, le=8192)
    seed: int = 0
    echo: bool = Field(
        False,
        description="a text answer is the last user message's text, exactly (output_tokens "
        "is ignored); tool calls, JSON output and refusals are unchanged",
    )
    degrade_share: float = Field(
        0.0,
        ge=0,
        le=1,
        description="with echo: the share of questions answered with filler words instead, "
        "chosen by a hash of the last user message's text (see echo.py)",
    )
    judge: bool = Field(
        False,
        description="answer an LLM judge's request with the verdict its markers ask for "
        "([[score:0.3]], [[unsafe]], [[judge:malformed]]...; see judge.py)",
    )
    judge_flip_share: float = Field(
        0.0, ge=0, le=1, description="with judge: flip the verdict on this share of answers"
    )
    judge_first_bias: bool = Field(
        False, description="with judge: a pairwise verdict always prefers the first answer"
    )


class FakeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default: ModelBehaviour = Field(default_factory=ModelBehaviour)
    models: dict[str, ModelBehaviour] = Field(default_factory=dict)
    require_api_key: str | None = None
    record_limit: int = Field(1000, ge=0, description="how many received requests to keep")

    def effective(self) -> dict[str, ModelBehaviour]:
        """Each overridden model's behaviour, merged over the default."""
        merged: dict[str, ModelBehaviour] = {}
        for name, override in self.models.items():
            update = {field: getattr(override, field) for field in override.model_fields_set}
            merged[name] = self.default.model_copy(update=update)
        return merged


def load_settings(path: str | Path) -> FakeSettings:
    """Read settings from a YAML (or JSON) file; an empty file gives the defaults."""
    data: Any = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if data is None:
        data = {}
    return FakeSettings.model_validate(data)
