"""`notify:`: webhook receivers told of what the controller and people did (docs/notify.md).

notify:
  - name: releases
    url: https://hooks.example.com/llm-rollout
    events: [rollback, approval_needed, completion]   # default: every event
    secret_env: NOTIFY_SECRET     # HMAC-SHA256 signature of each body, from this variable
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveFloat, field_validator

from rollout.config.strict import Strict

Event = Literal[
    "rollback",
    "approval_needed",
    "approved",
    "promotion",
    "completion",
    "kill_switch",
    "paused",
    "resumed",
    "state_restored",
    "state_lost",
    "eval_recorded",
    "hold_too_long",
    "gate_approaching",
]
EVENTS: tuple[str, ...] = Event.__args__  # type: ignore[attr-defined]


class Receiver(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    url: str
    events: list[Event] = list(EVENTS)
    secret_env: str | None = None
    timeout: PositiveFloat = 5.0  # seconds per attempt
    give_up_after: PositiveFloat = 600.0  # seconds of retrying one event before dropping it

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value


def receiver_names(value: list[Receiver]) -> list[Receiver]:
    names = [r.name for r in value]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"receiver {twice[0]!r} is named twice")
    return value
