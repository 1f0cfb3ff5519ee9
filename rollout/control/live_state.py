"""A rollout's live state as the proxy needs it: the candidate's weight, the kill switch, and the
epoch that scopes sticky assignments. Kept in the store as one document per rollout, written by
the admin API and the controller, read by every replica.

Document `rollout/<name>` (JSON):
    {"version": "3f2a...", "weight": 0.05, "max_weight": 0.25, "killed": false, "epoch": 2, ...}
Other fields (the controller's phase, stage, approvals) are kept as they are. A document for
another version than the config's describes an older candidate and is ignored: the new version
starts from the config's values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rollout.config.rollouts import Rollout

FLAGS_KEY = "flags"  # runtime flag overrides: {flag: {"enabled": bool, "percent": float}}
CHANGES_CHANNEL = "changes"  # {"key": <document key>} after every runtime change


def state_key(rollout: str) -> str:
    return f"rollout/{rollout}"


@dataclass(frozen=True, slots=True)
class LiveState:
    weight: float  # the candidate's share of subjects, in [0, 1]
    max_weight: float  # the highest weight of this version and epoch (stickiness reaches it)
    killed: bool  # everyone on the baseline, at once
    epoch: int  # bumped by a rollback: sticky assignments start afresh
    from_store: bool = False
    phase: str | None = None  # the controller's phase (read only here: the controller writes it)

    def fields(self) -> dict[str, Any]:
        return {
            "weight": self.weight,
            "max_weight": self.max_weight,
            "killed": self.killed,
            "epoch": self.epoch,
        }

    def with_weight(self, weight: float, killed: bool | None = None) -> LiveState:
        """A new weight (and kill switch); the stickiness reach only ever grows."""
        return LiveState(
            weight=weight,
            max_weight=max(self.max_weight, weight),
            killed=self.killed if killed is None else killed,
            epoch=self.epoch,
        )

    def rolled_back(self) -> LiveState:
        """Everyone on the baseline, and a new epoch: stickiness starts afresh."""
        return LiveState(weight=0.0, max_weight=0.0, killed=self.killed, epoch=self.epoch + 1)

    def scope(self, rollout: str, version: str) -> str:
        """Where this rollout's sticky assignments live in the store."""
        return f"{rollout}:{version}:{self.epoch}"


def initial_state(weight: float, killed: bool) -> LiveState:
    return LiveState(weight=weight, max_weight=weight, killed=killed, epoch=0)


def config_state(rollout: Rollout) -> LiveState:
    """The live state while no runtime change (admin API, controller) says otherwise."""
    return initial_state(rollout.weight, rollout.killed)


def state_from_doc(doc: dict[str, Any] | None, version: str, default: LiveState) -> LiveState:
    """The state a stored document describes, or `default` when it is absent or for another
    version. Raises ValueError for a document that is malformed (the caller keeps what it had)."""
    if doc is None or doc.get("version") != version:
        return default
    weight = _fraction(doc, "weight")
    max_weight = max(weight, _fraction(doc, "max_weight", weight))
    killed = doc.get("killed", False)
    epoch = doc.get("epoch", 0)
    if not isinstance(killed, bool):
        raise ValueError(f"killed must be true or false, got {killed!r}")
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
        raise ValueError(f"epoch must be a whole number >= 0, got {epoch!r}")
    phase = doc.get("phase")
    if phase is not None and not isinstance(phase, str):
        raise ValueError(f"phase must be a string, got {phase!r}")
    return LiveState(weight, max_weight, killed, epoch, from_store=True, phase=phase)


def state_to_doc(
    state: LiveState, version: str, base: dict[str, Any] | None = None
) -> dict[str, Any]:
    """`base` (the stored document) with this state's fields; other fields are kept."""
    keep = dict(base) if base and base.get("version") == version else {}
    keep.update(version=version, **state.fields())
    return keep


def _fraction(doc: dict[str, Any], key: str, default: float | None = None) -> float:
    value = doc.get(key, default)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0.0 <= value <= 1.0
    ):
        raise ValueError(f"{key} must be a number between 0 and 1, got {value!r}")
    return float(value)
