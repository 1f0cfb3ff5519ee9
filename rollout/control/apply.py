"""apply(): write a controller Decision to the store, audit it and tell every replica.

The state document `rollout/<name>` holds the proxy's fields (weight, max_weight, killed, epoch:
rollout/control/live_state.py) and, next to them, the controller's: phase, stage, since, failures,
approvals, awaiting, tested. Both are written in one compare-and-set, so a replica never sees a
weight whose phase disagrees, and a controller restart resumes from exactly what the proxy
serves.

Idempotent: when the stored controller state already equals the decision's, nothing is written,
audited or published (a rollback applied twice bumps the epoch once).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from rollout.control.decide import Decision, RolloutState
from rollout.control.gates import GateResult
from rollout.control.live_state import (
    LiveState,
    initial_state,
    state_from_doc,
    state_key,
    state_to_doc,
)
from rollout.control.operations import ChangeConflict, forget_old_epoch, publish_change
from rollout.stats.gate_stats import Interval
from rollout.store import Store

_ATTEMPTS = 5


class StaleDecision(ChangeConflict):
    """The state document changed after the decision was made from it; nothing was written."""


# The controller's fields in the state document; the proxy ignores them.
CONTROLLER_FIELDS = (
    "phase",
    "stage",
    "since",
    "failures",
    "approvals",
    "awaiting",
    "tested",
    "carried",
)


def controller_state(doc: Mapping[str, Any] | None, version: str) -> RolloutState | None:
    """The controller's state in a stored document; None when the document is absent, for
    another version, or has no controller fields yet. Raises ValueError when malformed."""
    if doc is None or doc.get("version") != version or "phase" not in doc:
        return None
    live = state_from_doc(dict(doc), version, initial_state(0.0, False))
    failures = doc.get("failures", {})
    approvals = doc.get("approvals", [])
    tested = doc.get("tested", [])
    carried = doc.get("carried", {})
    stage, since, awaiting = doc.get("stage", 0), doc.get("since", 0.0), doc.get("awaiting")
    if not isinstance(failures, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in failures.values()
    ):
        raise ValueError(f"failures must map gates to counts, got {failures!r}")
    if not isinstance(approvals, list) or not all(isinstance(a, str) for a in approvals):
        raise ValueError(f"approvals must be a list of keys, got {approvals!r}")
    if not isinstance(tested, list) or not all(isinstance(g, str) for g in tested):
        raise ValueError(f"tested must be a list of gates, got {tested!r}")
    if not isinstance(carried, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in carried.values()
    ):
        raise ValueError(f"carried must map counts to whole numbers, got {carried!r}")
    if not isinstance(stage, int) or isinstance(stage, bool) or stage < 0:
        raise ValueError(f"stage must be a whole number >= 0, got {stage!r}")
    if not isinstance(since, int | float) or isinstance(since, bool):
        raise ValueError(f"since must be a time, got {since!r}")
    if awaiting is not None and not isinstance(awaiting, str):
        raise ValueError(f"awaiting must be an approval key, got {awaiting!r}")
    return RolloutState(
        version=version,
        phase=doc["phase"],
        stage=stage,
        weight=live.weight,
        since=float(since),
        failures=_nonzero(failures),
        approvals=frozenset(approvals),
        awaiting=awaiting,
        tested=frozenset(tested),
        carried=dict(carried),
    )


def controller_fields(state: RolloutState) -> dict[str, Any]:
    """The controller's part of the document. Zero failure counts are left out: decide() reads
    a missing gate as 0, and leaving them out keeps a quiet look from counting as a change."""
    return {
        "phase": state.phase,
        "stage": state.stage,
        "since": state.since,
        "failures": _nonzero(state.failures),
        "approvals": sorted(state.approvals),
        "awaiting": state.awaiting,
        "tested": sorted(state.tested),
        "carried": dict(sorted(state.carried.items())),
    }


def _nonzero(failures: Mapping[str, int]) -> dict[str, int]:
    return {gate: n for gate, n in sorted(failures.items()) if n}


async def apply(
    store: Store,
    rollout_name: str,
    version: str,
    decision: Decision,
    actor: str = "controller",
    *,
    default: LiveState | None = None,
    config_hash: str | None = None,
    expected_rev: int | None = None,
    audit: Mapping[str, Any] | None = None,
) -> bool:
    """Write `decision.state`; True when something changed, False when it was already stored.

    `default`: the proxy's state while no document of this version exists (the config's weight
    and kill switch); the controller's weight replaces it, the kill switch is kept. A roll_back
    bumps the epoch and clears the old epoch's sticky assignments, as operations.roll_back does.
    `expected_rev`: the revision of the document the decision was made from; when the document
    changed since (a person paused, the controller promoted), nothing is written and StaleDecision
    is raised, so neither side undoes the other's change unseen. `audit`: fields added to (or
    replacing) the audit entry's, e.g. a person's own `reason`.
    Raises ChangeConflict when others kept writing the document, StoreError when it is down.
    """
    wanted = decision.state
    if not 0.0 <= wanted.weight <= 1.0:
        raise ValueError(f"decision weight must be a fraction in [0, 1], got {wanted.weight!r}")
    default = default or initial_state(0.0, False)
    key = state_key(rollout_name)
    for _ in range(_ATTEMPTS):
        doc, rev = await store.documents.read(key)
        if expected_rev is not None and rev != expected_rev:
            raise StaleDecision(f"the state of rollout {rollout_name!r} changed meanwhile")
        try:
            stored = controller_state(doc, version)
            before = state_from_doc(doc, version, default)
        except ValueError:
            stored, before = None, default  # a malformed document is replaced; audit says so
        if stored is not None and _same(stored, wanted, before):
            return False
        after = _live_after(before, decision)
        new_doc = state_to_doc(after, version, doc) | controller_fields(wanted)
        if await store.documents.write(key, new_doc, rev) is None:
            if expected_rev is not None:
                raise StaleDecision(f"the state of rollout {rollout_name!r} changed meanwhile")
            continue
        await forget_old_epoch(store, rollout_name, version, before, after)
        entry = audit_entry(rollout_name, version, decision, actor, stored, before, after)
        if config_hash is not None:
            entry["config_hash"] = config_hash
        await store.audit.append(entry | dict(audit or {}))
        await publish_change(store, key)
        return True
    raise ChangeConflict(f"the state of rollout {rollout_name!r} kept changing; nothing applied")


def _same(stored: RolloutState, wanted: RolloutState, live: LiveState) -> bool:
    return controller_fields(stored) == controller_fields(wanted) and math.isclose(
        live.weight, wanted.weight, abs_tol=1e-12
    )


def _live_after(before: LiveState, decision: Decision) -> LiveState:
    """The proxy's fields after the decision, by the same rules as a change by hand."""
    if decision.action == "roll_back":
        return before.rolled_back()
    return before.with_weight(decision.state.weight)


def audit_entry(
    rollout: str,
    version: str,
    decision: Decision,
    actor: str,
    stored: RolloutState | None,
    before: LiveState,
    after: LiveState,
) -> dict[str, Any]:
    """What was decided, from what to what, why, and every gate's numbers."""
    return {
        "action": decision.action,
        "actor": actor,
        "rollout": rollout,
        "version": version,
        "reason": "; ".join(decision.reasons),
        "reasons": list(decision.reasons),
        "before": {"phase": stored.phase if stored else None, **_numbers(stored, before)},
        "after": {"phase": decision.state.phase, **_numbers(decision.state, after)},
        "gates": [gate_record(r) for r in decision.gates],
    }


def _numbers(state: RolloutState | None, live: LiveState) -> dict[str, Any]:
    return {
        "stage": state.stage if state else None,
        "awaiting": state.awaiting if state else None,
        **live.fields(),
    }


def gate_record(result: GateResult) -> dict[str, Any]:
    """A gate result as JSON; an infinite interval end (nothing shown) becomes null."""
    return {
        "gate": result.gate,
        "metric": result.metric,
        "class": result.klass,
        "verdict": result.verdict,
        "bound": result.bound,
        "reason": result.reason,
        "samples": list(result.samples),
        "candidate": _finite(result.candidate),
        "baseline": _finite(result.baseline),
        "tested": result.tested,
        "interval": _interval(result.interval),
        "rollback_interval": _interval(result.rollback_interval),
        "waived": result.waived,
    }


def _interval(interval: Interval | None) -> dict[str, float | None] | None:
    if interval is None:
        return None
    return {
        "value": _finite(interval.value),
        "low": _finite(interval.low),
        "high": _finite(interval.high),
    }


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None
