"""Runtime changes to rollouts and flags: written to the store with compare-and-set, audited
(who, what, when, why, before and after) and published so every replica applies them within a
second. Used by the admin API now and by the controller; free of any web framework.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from rollout.control.live_state import (
    CHANGES_CHANNEL,
    FLAGS_KEY,
    LiveState,
    state_from_doc,
    state_key,
    state_to_doc,
)
from rollout.errors import RolloutError, StoreError
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
        return state.with_weight(state.weight if weight is None else weight, killed)

    action = "kill" if killed else "unkill" if killed is False else "set_weight"
    return await _update_state(store, rollout, version, default, change, action, actor, reason)


async def roll_back(
    store: Store, rollout: str, version: str, default: LiveState, *, actor: str, reason: str
) -> LiveState:
    """Everyone back on the baseline, and stickiness starts afresh (a new epoch)."""
    return await _update_state(
        store, rollout, version, default, LiveState.rolled_back, "rollback", actor, reason
    )


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
            await forget_old_epoch(store, rollout, version, before, after)
            await _audit_and_publish(
                store, key, action, actor, reason, before.fields(), after.fields(), rollout=rollout
            )
            return after
    raise ChangeConflict(f"the state of rollout {rollout!r} kept changing; nothing was changed")


async def forget_old_epoch(
    store: Store, rollout: str, version: str, before: LiveState, after: LiveState
) -> None:
    """A new epoch (a rollback): the old epoch's sticky assignments are of no use any more."""
    if after.epoch != before.epoch:
        await store.assignments.clear_arms(before.scope(rollout, version))


async def publish_change(store: Store, key: str) -> None:
    """Tell every replica to re-read `key`. Best effort: they re-read every few seconds anyway,
    and the change itself is stored."""
    with contextlib.suppress(StoreError):
        await store.notifications.publish(CHANGES_CHANNEL, {"key": key})


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
    await publish_change(store, key)
