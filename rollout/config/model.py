"""The config schema: what a YAML file may say, with defaults and the checks that span keys.

Unknown keys are errors (a typo must not silently fall back to a default).
"""

from __future__ import annotations

from typing import Literal

from pydantic import (
    Field,
    NonNegativeFloat,
    PositiveFloat,
    PrivateAttr,
    field_validator,
)

from rollout.config.fallback import Fallback
from rollout.config.flags import Flag
from rollout.config.notify import Receiver, receiver_names
from rollout.config.rollouts import Rollout, Store
from rollout.config.scorers import ScorerConfig, scorer_names
from rollout.config.strict import Strict

ApiKind = Literal["openai", "anthropic"]


class Timeouts(Strict):
    """Seconds. first_byte: until the first body byte (for a non-streaming call, the whole
    generation); idle: the longest gap between two chunks after that; total: the whole call."""

    connect: PositiveFloat = 5.0
    first_byte: PositiveFloat = 120.0
    idle: PositiveFloat = 60.0
    total: PositiveFloat = 600.0


class Provider(Strict):
    """An upstream. Credentials come from `api_key_env`, or, when absent, from the client."""

    kind: ApiKind = "openai"
    base_url: str
    api_key_env: str | None = None
    timeouts: Timeouts = Timeouts()
    max_connections: int = Field(default=1000, ge=1)
    # Ask OpenAI-style streams for usage when the client did not (and hide the extra chunk).
    # Turn off for an OpenAI-compatible server that rejects stream_options.
    stream_usage: bool = True

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        if "?" in value or "#" in value:
            raise ValueError("must not contain a query or fragment")
        return value.rstrip("/")

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not value.replace("_", "").isalnum():
            raise ValueError("must be an environment variable name, e.g. OPENAI_API_KEY")
        return value


class Route(Strict):
    """Requests under `prefix` go to `provider`: upstream URL = base_url + path after prefix.
    With `models`, only requests whose body names a matching model (shell-style globs)."""

    prefix: str
    provider: str
    models: list[str] | None = None
    fallbacks: list[Fallback] = []  # tried in order when the provider fails (docs/fallback.md)

    @field_validator("prefix")
    @classmethod
    def _absolute_path(cls, value: str) -> str:
        if not value.startswith("/") or "?" in value or ".." in value:
            raise ValueError("must be a path starting with / (no query, no '..')")
        return value.rstrip("/") or "/"


class Listen(Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)


class Admin(Strict):
    """/metrics, /healthz, /readyz (and the admin API) on their own port; loopback by default."""

    host: str = "127.0.0.1"
    port: int = Field(default=9090, ge=0, le=65535)
    # Bearer tokens, from the environment (docs/rollouts.md): this variable holds one token with
    # full rights; `tokens_env` holds several, `name:role:token,...` (viewer, operator,
    # approver). None set: changes are refused, and so are reads off loopback.
    token_env: str = "LLM_ROLLOUT_ADMIN_TOKEN"
    tokens_env: str = "LLM_ROLLOUT_ADMIN_TOKENS"


class Price(Strict):
    """USD per million tokens. cached_input defaults to input; cache_write to 1.25 x input."""

    input: NonNegativeFloat
    output: NonNegativeFloat
    cached_input: NonNegativeFloat | None = None
    cache_write: NonNegativeFloat | None = None


class Observe(Strict):
    prices: dict[str, Price] = {}  # model name -> price; overrides the bundled table
    refusal_phrases: list[str] | None = None  # None: the bundled list (docs/refusals.md)


class Limits(Strict):
    max_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)


class Config(Strict):
    """The whole file. Cross-references (routes, rollouts and flags naming providers) are
    checked by the loader (references.py), so that they are reported with every other problem."""

    listen: Listen = Listen()
    admin: Admin = Admin()
    limits: Limits = Limits()
    observe: Observe = Observe()
    providers: dict[str, Provider] = Field(min_length=1)
    routes: list[Route] = Field(min_length=1)
    store: Store = Store()
    rollouts: list[Rollout] = []
    flags: list[Flag] = []
    scorers: dict[str, ScorerConfig] = {}  # name -> scorer; gates read score_<name>
    notify: list[Receiver] = []  # webhooks told of decisions (rollout/config/notify.py)
    # When the file was last modified (load_config sets it): which of two configs is the newer,
    # for a controller that must not undo a plan edit its replica has not seen yet.
    _file_time: float | None = PrivateAttr(default=None)

    @field_validator("notify")
    @classmethod
    def _receiver_names(cls, value: list[Receiver]) -> list[Receiver]:
        return receiver_names(value)

    @field_validator("scorers")
    @classmethod
    def _scorer_names(cls, value: dict[str, ScorerConfig]) -> dict[str, ScorerConfig]:
        return scorer_names(value)

    @property
    def file_time(self) -> float | None:
        return self._file_time
