"""The config of rollouts: which requests a rollout governs, who its subjects are, the baseline and
candidate variants (provider, model, prompt, parameters), and the store that keeps its state.

Request conditions (`Match`) and their effects live in flags.py; rollouts reuse `Match` for
their overrides (cohort pins).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import Field, PositiveFloat, ValidationInfo, field_validator, model_validator

from rollout.config.fallback import Fallback
from rollout.config.flags import Match
from rollout.config.plan import Plan
from rollout.config.scoring import Scoring
from rollout.config.shadow import Shadow
from rollout.config.strict import Strict, no_structural_fields

Arm = Literal["baseline", "candidate"]
ARMS: tuple[Arm, ...] = ("baseline", "candidate")

NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,62}$"
# Where the subject (unit of stickiness) is read from, first present wins. "api_key" means a
# one-way fingerprint of the caller's key, never the secret itself.
_SUBJECT_SOURCE = re.compile(
    r"^(header:[A-Za-z0-9-]+|body:[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*|api_key)$"
)
DEFAULT_SUBJECT = ("body:user", "body:metadata.user_id", "api_key")

DEFAULT_BUCKET_SECONDS = 10  # store.window_bucket_seconds: the metric windows' bucket


class Prompt(Strict):
    """A system prompt: a markdown `file` (relative to the config file; prompts are releases kept in
    the repo, e.g. config/prompts/) or inline `text`. `replace` swaps the request's own system
    prompt for this one; `prepend` puts this one before it."""

    file: str | None = None
    text: str = ""
    mode: Literal["replace", "prepend"] = "replace"

    @model_validator(mode="before")
    @classmethod
    def _read_file(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict) or data.get("file") is None:
            return data
        if "text" in data:
            raise ValueError("give either file or text, not both")
        base = Path((info.context or {}).get("base_dir", "."))
        path = base / str(data["file"])
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"cannot read prompt file {path}: {exc.strerror}") from exc
        return {**data, "text": text}


class Variant(Strict):
    """What an arm serves. Unset fields keep what the request asked for."""

    provider: str | None = None
    model: str | None = None
    prompt: Prompt | None = None
    params: dict[str, Any] = {}  # top-level body fields set on every request, e.g. temperature
    # Tried in order when the arm's provider fails before the client saw a byte; the arm's own
    # instead of the route's. A rescued call still counts as an error of the arm in its gates.
    fallbacks: list[Fallback] = []

    @field_validator("params")
    @classmethod
    def _no_structural_params(cls, value: dict[str, Any]) -> dict[str, Any]:
        return no_structural_fields(value, "use model / prompt")

    def fingerprint(self) -> str:
        """Stable over everything that changes what this variant serves (the prompt text too)."""
        doc = self.model_dump(exclude={"prompt": {"file"}})
        if not doc["fallbacks"]:
            del doc["fallbacks"]  # so adding the field changed no existing rollout's version
        return hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest()[:12]


class Override(Strict):
    """Pin the subjects or requests that `match` to `arm` (e.g. staff always on the candidate)."""

    match: Match
    arm: Arm


# The plan of a rollout that gives none. Shared, not copied per rollout as a default normally is:
# a Plan is frozen, nothing edits its lists, and copying its gates and stages took most of the
# validation time of a config with a thousand rollouts.
_DEFAULT_PLAN = Plan()


class Rollout(Strict):
    """A baseline and a candidate served to sticky cohorts. `weight` is the candidate's share of
    subjects when no runtime state (controller, admin API) says otherwise."""

    name: str = Field(pattern=NAME_PATTERN)
    routes: list[str] | None = None  # route prefixes governed; None: every route
    models: list[str] | None = None  # shell globs of the requested model; None: every model
    subject: list[str] = list(DEFAULT_SUBJECT)
    salt: str | None = None  # defaults to the name; change it to reshuffle cohorts
    weight: float = Field(default=0.0, ge=0.0, le=1.0)
    sticky_ttl: PositiveFloat = 30 * 24 * 3600  # seconds a candidate subject stays candidate
    killed: bool = False  # kill switch: everyone on the baseline
    baseline: Variant = Variant()
    candidate: Variant
    overrides: list[Override] = []
    plan: Plan = Field(default_factory=lambda: _DEFAULT_PLAN)
    shadow: Shadow | None = None  # mirror baseline traffic to the candidate (docs/shadow.md)
    scoring: Scoring | None = None  # score sampled answers online (docs/scorers.md)

    @field_validator("subject")
    @classmethod
    def _sources(cls, value: list[str]) -> list[str]:
        bad = [s for s in value if not _SUBJECT_SOURCE.match(s)]
        if bad:
            raise ValueError(
                f"unknown subject source {bad[0]!r}:"
                " use header:<name>, body:<field.path> or api_key"
            )
        if not value:
            raise ValueError("needs at least one source")
        return value

    @model_validator(mode="after")
    def _no_traffic_before_the_eval(self) -> Rollout:
        # The config's weight is served until the controller's first look: with require_eval,
        # that would be candidate traffic before any evidence.
        if self.plan.require_eval is not None and self.weight > 0:
            raise ValueError(
                "plan.require_eval: weight must be 0 (the controller starts the candidate once"
                " its eval allows it)"
            )
        return self

    @model_validator(mode="after")
    def _shadow_gates_have_pairs(self) -> Rollout:
        """A gate on shadow pairs needs pairs to judge: mirroring, and a shadow phase."""
        gates = [g.key for g in self.plan.gates if g.metric.startswith("disagreement_")]
        if gates and (self.shadow is None or self.plan.shadow is None):
            raise ValueError(
                f"gate {gates[0]!r} judges shadow pairs: the rollout needs a `shadow` section"
                " (mirroring) and `plan.shadow` (the phase in which pairs are judged)"
            )
        return self

    @model_validator(mode="after")
    def _scores_judged_live(self) -> Rollout:
        # The plan's score_<name> gates for scorers scored here are measured on traffic: the
        # live controller judges them (rollout/control/gates.py live_gates).
        if self.scoring is not None:
            self.plan._live_metrics = self.scoring.gate_metrics
        return self

    @property
    def version(self) -> str:
        """Changes when the candidate changes (a new release); not when the ramp does."""
        return self.candidate.fingerprint()

    @property
    def bucket_salt(self) -> str:
        return self.salt if self.salt is not None else self.name

    @property
    def shadow_salt(self) -> str:
        """Salt of the shadow sample: independent of the arms' buckets, so mirrored subjects are
        not the ones next in line for the candidate."""
        if self.shadow is not None and self.shadow.salt is not None:
            return self.shadow.salt
        return f"{self.bucket_salt}/shadow"


class Store(Strict):
    """Where rollout state, sticky assignments, metric windows and the audit log live.

    No Redis URL: the embedded store (files under data_dir; one process only). With Redis:
    shared by every replica and the controller. `require`: report not-ready while the store is
    unreachable (by default the proxy keeps serving from what it last knew).
    `window_bucket_seconds`: the time bucket of the metric windows, written by every replica and
    read by the controller (one value for both, so it lives here and changes only on restart)."""

    redis_url: str | None = None
    redis_url_env: str | None = None  # read the URL (it may hold a password) from this variable
    data_dir: str = "./data"
    timeout: PositiveFloat = 0.25  # seconds; bounds every store call on the request path
    key_prefix: str = "llmr:"
    require: bool = False
    # A stage's first partial bucket is left out of its window, and the cost gate needs 6 buckets
    # with priced calls: long buckets make every stage slower to judge.
    window_bucket_seconds: int = Field(default=DEFAULT_BUCKET_SECONDS, ge=1, le=60)

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value
