"""Runtime changes to rollouts and flags: written to the store with compare-and-set, audited
(who, what, when, why, before and after) and published so every replica applies them within a
second. Used by the admin API now and by the controller; free of any web framework.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from rollout.errors import RolloutError, StoreError
from rollout.live_state import (
    CHANGES_CHANNEL,
    FLAGS_KEY,
    LiveState,
    state_from_doc,
    state_key,
    state_to_doc,
)
from rollout.store import Store

_ATTEMPTS = 5


class ChangeConflict(RolloutError):
    """Others kept writing the same document; nothing was changed."""


async def set_rollout(
    store: Store,
    rollout: str,
    version: str,
    default: LiveState,
    *,
    actor: str,
    reason: str,
    weight: float | None = None,
    killed: bool | None = None,
) -> LiveState:
    """Set the weight and/or the kill switch. Raising the weight raises the stickiness reach."""

    def change(state: LiveState) -> LiveState:
        new_weight = state.weight if weight is None else weight
        return LiveState(
            weight=new_weight,
            max_weight=max(state.max_weight, new_weight),
            killed=state.killed if killed is None else killed,
            epoch=state.epoch,
        )

    action = "kill" if killed else "unkill" if killed is False else "set_weight"
    return await _update_state(store, rollout, version, default, change, action, actor, reason)


async def roll_back(
    store: Store, rollout: str, version: str, default: LiveState, *, actor: str, reason: str
) -> LiveState:
    """Everyone back on the baseline, and stickiness starts afresh (a new epoch)."""

    old_scopes: list[str] = []  # the scope of the state the rollback replaced

    def change(state: LiveState) -> LiveState:
        old_scopes.append(state.scope(rollout, version))
        return LiveState(weight=0.0, max_weight=0.0, killed=state.killed, epoch=state.epoch + 1)

    after = await _update_state(store, rollout, version, default, change, "rollback", actor, reason)
    await store.assignments.clear_arms(old_scopes[-1])
    return after


async def set_flag(
    store: Store,
    flag: str,
    *,
    actor: str,
    reason: str,
    enabled: bool | None = None,
    percent: float | None = None,
) -> dict[str, Any]:
    """Override a flag's `enabled` and/or `percent` on every replica; returns the override."""
    for _ in range(_ATTEMPTS):
        doc, rev = await store.documents.read(FLAGS_KEY)
        doc = doc or {}
        before = dict(doc.get(flag) or {})
        after = dict(before)
        if enabled is not None:
            after["enabled"] = enabled
        if percent is not None:
            after["percent"] = percent
        if await store.documents.write(FLAGS_KEY, {**doc, flag: after}, rev) is not None:
            await _audit_and_publish(
                store, FLAGS_KEY, "set_flag", actor, reason, before, after, flag=flag
            )
            return after
    raise ChangeConflict(f"flag overrides kept changing; {flag!r} was not updated")


async def _update_state(
    store: Store,
    rollout: str,
    version: str,
    default: LiveState,
    change: Callable[[LiveState], LiveState],
    action: str,
    actor: str,
    reason: str,
) -> LiveState:
    key = state_key(rollout)
    for _ in range(_ATTEMPTS):
        doc, rev = await store.documents.read(key)
        try:
            before = state_from_doc(doc, version, default)
        except ValueError:
            before = default  # a malformed document is replaced, and the audit says from what
        after = change(before)
        if await store.documents.write(key, state_to_doc(after, version, doc), rev) is not None:
            await _audit_and_publish(
                store, key, action, actor, reason, before.fields(), after.fields(), rollout=rollout
            )
            return after
    raise ChangeConflict(f"the state of rollout {rollout!r} kept changing; nothing was changed")


async def _audit_and_publish(
    store: Store,
    key: str,
    action: str,
    actor: str,
    reason: str,
    before: dict[str, Any],
    after: dict[str, Any],
    **extra: str,
) -> None:
    await store.audit.append(
        {"action": action, "actor": actor, "reason": reason, "before": before, "after": after}
        | extra
    )
    # Replicas re-read every few seconds anyway: the change itself is stored.
    with contextlib.suppress(StoreError):
        await store.notifications.publish(CHANGES_CHANNEL, {"key": key})
