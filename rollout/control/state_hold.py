"""Hold an automatic rollout whose state the store lost when nothing of its version was known.

The store lost its data (rollout/control/state_keeper.py) and this process knew the rollout only
at another version, or not at all: it may have been ramped, killed or rolled back, and nobody can
tell which. Starting the ramp from the config could undo a rollback, so the controller writes a
paused state at weight 0 instead: every replica serves the baseline, llm_rollout_state_lost is 1,
an ERROR line says what happened, and an operator decides (`rollout resume NAME` starts the ramp
from its first stage; `rollout rollback NAME` ends it).
"""

from __future__ import annotations

import logging

from rollout.config.rollouts import Rollout
from rollout.control.apply import apply
from rollout.control.decide import Decision, RolloutState
from rollout.control.live_state import initial_state
from rollout.control.state_metrics import set_held
from rollout.store import Store

log = logging.getLogger("llm_rollout.state")


def hold_reason(rollout: Rollout) -> str:
    return (
        f"the store lost the state of rollout {rollout.name} and nothing of version"
        f" {rollout.version} was known: holding on the baseline until an operator decides"
        f" (rollout resume {rollout.name})"
    )


async def hold_lost(
    store: Store, rollout: Rollout, rev: int, now: float, actor: str, config_hash: str | None
) -> bool:
    """Write the paused state at weight 0 (from revision `rev`); True when written. Raises
    StaleDecision when the document changed meanwhile, ChangeConflict, StoreError."""
    reason = hold_reason(rollout)
    state = RolloutState(version=rollout.version, phase="paused", weight=0.0, since=now)
    changed = await apply(
        store,
        rollout.name,
        rollout.version,
        Decision("pause", (reason,), (), state),
        actor,
        default=initial_state(0.0, rollout.killed),
        expected_rev=rev,
        config_hash=config_hash,
        audit={"action": "state_lost", "controller": actor},
    )
    set_held(rollout.name, "controller", True)
    log.error("STATE LOST: %s", reason)
    return changed


def release_hold(rollout: str) -> None:
    """The held rollout was resumed (or rolled back) by a person: no longer an alert."""
    set_held(rollout, "controller", False)
