"""Feature flags in config: a condition on the request (`Match`) and what to do (`Effect`).

Flags are compiled once per config load (rollout/targeting/flags.py); ops can switch a flag off
or change its percentage at run time without a reload.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, PositiveInt, field_validator, model_validator

from rollout.config.strict import Strict, no_structural_fields

Scalar = str | int | float | bool


def _scalars(value: Any) -> Any:
    # Checked before the union so that a bad value gets one clear line, not one per member.
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str | int | float) for v in items):  # bool is an int
        raise ValueError("must be a string, number or boolean, or a list of them")
    return value


Accepted = Annotated[Scalar | list[Scalar], BeforeValidator(_scalars)]


class Match(Strict):
    """Every condition given must hold (an empty match holds for every request).

    headers: header name -> accepted value(s), compared exactly.
    body: dotted field path (e.g. metadata.tier) -> accepted value(s).
    models: shell globs of the requested model. routes: route prefixes. apis: e.g. openai.chat.
    subjects: subject ids. percent: this share of subjects (stable per subject, own salt).
    max_tokens_over: the requested output-token limit is above this (absent counts as above).
    tools: true = the request offers tools; false = it offers none.
    """

    headers: dict[str, Accepted] = {}
    body: dict[str, Accepted] = {}
    models: list[str] | None = None
    routes: list[str] | None = None
    apis: list[str] | None = None
    subjects: list[str] | None = None
    percent: float | None = Field(default=None, ge=0, le=100)
    max_tokens_over: int | None = Field(default=None, ge=0)
    tools: bool | None = None

    @field_validator("apis")
    @classmethod
    def _known_apis(cls, value: list[str] | None) -> list[str] | None:
        known = {
            "openai.chat",
            "openai.completions",
            "openai.responses",
            "openai.embeddings",
            "anthropic.messages",
        }
        unknown = [a for a in value or () if a not in known]
        if unknown:
            raise ValueError(f"unknown api {unknown[0]!r} (known: {', '.join(sorted(known))})")
        return value


class Deny(Strict):
    """Answer the client with an error in its provider's own JSON shape."""

    message: str
    status: int = Field(default=403, ge=400, le=599)


class RouteTo(Strict):
    """Send the request to another provider and/or model (same API kind as the route's)."""

    provider: str | None = None
    model: str | None = None

    @model_validator(mode="after")
    def _something(self) -> RouteTo:
        if self.provider is None and self.model is None:
            raise ValueError("route needs a provider, a model or both")
        return self


class Effect(Strict):
    """What a matching flag does. `cap` lowers numeric body fields to a maximum (`max_tokens`
    means the output-token limit in the request's own API: max_tokens, max_completion_tokens or
    max_output_tokens); `set` sets body fields; `arm` forces the rollout's arm."""

    deny: Deny | None = None
    route: RouteTo | None = None
    cap: dict[str, PositiveInt] = {}
    set: dict[str, Any] = {}
    strip_tools: bool = False
    arm: Literal["baseline", "candidate"] | None = None

    @field_validator("set")
    @classmethod
    def _no_structural_fields(cls, value: dict[str, Any]) -> dict[str, Any]:
        return no_structural_fields(value, "use route.model for the model")

    @model_validator(mode="after")
    def _something(self) -> Effect:
        others = self.route or self.cap or self.set or self.strip_tools or self.arm
        if self.deny is None and not others:  # (not `== Effect()`: slow, once per flag)
            raise ValueError("a flag must do something: deny, route, cap, set, strip_tools or arm")
        if self.deny is not None and others:
            raise ValueError("deny cannot be combined with other effects")
        return self


class Flag(Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$")
    enabled: bool = True
    when: Match = Match()
    then: Effect
