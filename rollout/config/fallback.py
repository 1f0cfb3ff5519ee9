"""A fallback: where a call goes when its provider fails before the client saw a byte
(docs/fallback.md): another provider of the same API, with the model to ask for there."""

from __future__ import annotations

from rollout.config.strict import Strict


class Fallback(Strict):
    provider: str
    model: str | None = None  # None: the model the call already names
