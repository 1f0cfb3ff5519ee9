"""What an eval sends its cases to: the rollout it compares, and the path of each API under
the route that rollout governs (what an SDK appends to its base_url)."""

from __future__ import annotations

from rollout.config import Config
from rollout.config.rollouts import Rollout
from rollout.errors import EvalError

API_PATHS = {
    "openai.chat": "/chat/completions",
    "openai.responses": "/responses",
    "anthropic.messages": "/v1/messages",
}


def find_rollout(config: Config, name: str) -> Rollout:
    for rollout in config.rollouts:
        if rollout.name == name:
            return rollout
    known = ", ".join(r.name for r in config.rollouts) or "none"
    raise EvalError(f"no rollout named {name!r} in the config (rollouts: {known})")


def case_path(config: Config, rollout: Rollout, api: str) -> str:
    """The first route to a provider of the API's kind that the rollout governs, plus the API's
    path: `/v1` + `/chat/completions`."""
    kind = "anthropic" if api.startswith("anthropic") else "openai"
    governed = {g.rstrip("/") for g in rollout.routes} if rollout.routes is not None else None
    for route in config.routes:
        prefix = route.prefix.rstrip("/")
        if config.providers[route.provider].kind == kind and (
            governed is None or prefix in governed
        ):
            return prefix + API_PATHS[api]
    raise EvalError(
        f"rollout {rollout.name!r} governs no route to an {kind} provider (needed for {api} cases)"
    )
