"""The `scorers:` section: named scorers the gates' `score_<name>` metrics read.

    scorers:
      safety:       {kind: judge, provider: openai, model: gpt-4o, rubric: rubrics/safety.md,
                     second: {model: gpt-4o-mini, sample: 0.2},
                     review: {labels: reviews/safety.jsonl, sample: 0.1}}
      no_refusal:   {kind: builtin, expect: {refused: false}}
      valid_json:   {kind: builtin, check: json_valid}
      tone:         {kind: http, url: "https://scoring.internal/tone", timeout: 5, retries: 2}

The shape is checked here; what needs the scorers' own code (a rubric's content, a builtin's
`expect`) is checked by rollout/scorers/build.py, which `check-config` and `rollout eval` run
too. Files are relative to the config file's directory.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PositiveFloat,
    ValidationInfo,
    field_validator,
    model_validator,
)

from rollout.config.strict import Strict

NAME = re.compile(r"^[a-z][a-z0-9_]*$")  # a scorer's name is part of a metric name
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "builtin": ("check", "expect"),
    "http": ("url", "timeout", "retries", "token_env"),
    "judge": ("provider", "model", "rubric", "structured", "max_tokens", "second", "review"),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "builtin": (),
    "http": ("url",),
    "judge": ("provider", "model", "rubric"),
}


def _resolve(value: Any, info: ValidationInfo) -> Any:
    """A file named relative to the config file, as the path to open."""
    if not isinstance(value, str) or not value:
        return value
    base = Path((info.context or {}).get("base_dir", "."))
    return str(base / value)


def _readable(value: str | None) -> str | None:
    if value is not None and not Path(value).is_file():
        raise ValueError(f"no such file: {value}")
    return value


# A file named relative to the config file, checked to exist when the config loads.
RubricFile = Annotated[str | None, BeforeValidator(_resolve), AfterValidator(_readable)]


class SecondJudge(Strict):
    """A second opinion on a sample of answers: another model, or the same model reading a
    re-phrased rubric. Unset fields are the first judge's."""

    provider: str | None = None
    model: str | None = None
    rubric: RubricFile = None
    sample: float = Field(default=0.2, gt=0.0, le=1.0)


class Review(Strict):
    """People label a sample of the judge's verdicts (`rollout review NAME`)."""

    labels: Annotated[str, BeforeValidator(_resolve)]  # JSONL, appended to (it may not exist yet)
    sample: float = Field(default=0.1, gt=0.0, le=1.0)


class ScorerConfig(Strict):
    kind: Literal["builtin", "http", "judge"]
    # builtin: one of
    check: Literal["case_expect", "json_valid"] | None = None
    expect: dict[str, Any] | None = None
    # http
    url: str | None = None
    timeout: PositiveFloat = 10.0
    retries: int = Field(default=1, ge=0, le=5)
    token_env: str | None = None  # a bearer token sent to the service
    # judge
    provider: str | None = None
    model: str | None = None
    rubric: RubricFile = None
    structured: bool = True  # a JSON schema in the request (false: prompt + tolerant parsing)
    max_tokens: int = Field(default=300, ge=16)
    second: SecondJudge | None = None
    review: Review | None = None

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @model_validator(mode="after")
    def _fields_of_kind(self) -> ScorerConfig:
        given = self.model_fields_set - {"kind"}
        foreign = sorted(f for f in given if f not in KIND_FIELDS[self.kind])
        if foreign:
            raise ValueError(f"{', '.join(foreign)}: not used by kind {self.kind}")
        missing = [f for f in REQUIRED[self.kind] if f not in given]
        if missing:
            raise ValueError(f"kind {self.kind} needs {', '.join(missing)}")
        if self.kind == "builtin" and (self.check is None) == (self.expect is None):
            raise ValueError("kind builtin needs exactly one of check, expect")
        return self


def scorer_names(value: dict[str, ScorerConfig]) -> dict[str, ScorerConfig]:
    bad = sorted(name for name in value if not NAME.match(name))
    if bad:
        raise ValueError(
            f"scorer name {bad[0]!r} must be lower-case letters, digits and _ (it names the"
            " metric score_<name>)"
        )
    return value


Finding = tuple[str, str, str | None]


def scorer_references(
    scorers: dict[str, ScorerConfig], providers: set[str], gate_metrics: list[tuple[str, str]]
) -> Iterator[Finding]:
    """Judges name configured providers; `score_<name>` gates name configured scorers.
    `gate_metrics`: (where the gate is, its metric)."""
    known = ", ".join(sorted(providers))
    for name, scorer in scorers.items():
        for where, provider in (
            ("provider", scorer.provider),
            ("second.provider", scorer.second.provider if scorer.second else None),
        ):
            if provider is not None and provider not in providers:
                message = f"names no configured provider (known: {known})"
                yield f"scorers.{name}.{where}", message, repr(provider)
    names = ", ".join(sorted(scorers)) or "none"
    for where, metric in gate_metrics:
        wanted = metric.removeprefix("score_")
        if metric.startswith("score_") and wanted not in scorers:
            message = f"names no configured scorer {wanted!r} (scorers: {names})"
            yield where, message, repr(metric)
