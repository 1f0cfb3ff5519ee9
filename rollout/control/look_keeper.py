"""After each look: keep the look document (rollout/control/look.py) in the store, so that
`rollout status` says why a rollout waits wherever the controller runs; log a gate that cannot get
data, and log and audit a hold past `plan.hold_warning_factor`, each once.

"Once" is kept in the document itself (the hold warned about, the gates flagged), not in memory:
a restarted controller, or a standby that takes the lead, does not say it again.

The document is written when what people read changed (its digest) or, at the least, every
REFRESH_SECONDS, so that an old `at` tells a controller that stopped looking from a quiet one.
The last document written is kept in memory: one store read per rollout per process, not per look.
"""

from __future__ import annotations

import logging
from typing import Any

from rollout.config.rollouts import Rollout
from rollout.control.approaching import approach_entry, approaching
from rollout.control.decide import Decision, RolloutState
from rollout.control.hold_warning import hold_entry, hold_reason, hold_too_long
from rollout.control.look import digest, look_document, look_key
from rollout.control.snapshot import WindowSnapshot
from rollout.store import Store

log = logging.getLogger(__name__)

REFRESH_SECONDS = 300.0


class LookKeeper:
    def __init__(self, store: Store, owner: str) -> None:
        self.store = store
        self.owner = owner
        self._last: dict[str, tuple[dict[str, Any] | None, int]] = {}

    async def record(
        self,
        rollout: Rollout,
        state: RolloutState,
        snap: WindowSnapshot,
        decision: Decision,
        now: float,
        config_hash: str | None = None,
    ) -> dict[str, Any]:
        """The look's document, as stored after this look. Raises StoreError."""
        doc = look_document(rollout.plan, state, snap, decision, now)
        before, rev = await self._stored(rollout.name)
        earlier = before if _same_stage(before, doc) else None
        doc["controller"] = self.owner
        doc["hold"] = await self._hold(rollout, decision, doc, earlier, now, config_hash)
        doc["approaching"] = await self._approaching(rollout, decision, earlier)
        self._say_unobservable(rollout.name, doc, earlier)
        doc["digest"] = digest(doc)
        if before is not None and _fresh(before, doc, now):
            return before
        await self._write(rollout.name, doc | {"written": now}, rev)
        return doc

    async def _stored(self, name: str) -> tuple[dict[str, Any] | None, int]:
        if name not in self._last:
            self._last[name] = await self.store.documents.read(look_key(name))
        return self._last[name]

    async def _write(self, name: str, doc: dict[str, Any], rev: int) -> None:
        written = await self.store.documents.write(look_key(name), doc, rev)
        if written is None:  # another controller wrote it (a former leader): take it over
            _, rev = await self.store.documents.read(look_key(name))
            written = await self.store.documents.write(look_key(name), doc, rev)
        self._last[name] = (doc, written) if written is not None else (None, 0)
        if written is None:
            self._last.pop(name)  # read it again next time

    async def _hold(
        self,
        rollout: Rollout,
        decision: Decision,
        doc: dict[str, Any],
        earlier: dict[str, Any] | None,
        now: float,
        config_hash: str | None,
    ) -> dict[str, Any] | None:
        """The hold warned about in this stage: kept once warned, warned (log, audit) once."""
        if earlier is not None and earlier.get("hold"):
            return earlier["hold"]
        hold = hold_too_long(rollout.plan, decision, now)
        if hold is None:
            return None
        percent = rollout.plan.stages[hold["stage"]].percent
        reason = hold_reason(hold, None if decision.state.phase == "shadow" else percent)
        log.warning("rollout %s: %s: %s", rollout.name, reason, "; ".join(decision.reasons))
        entry = hold_entry(rollout.name, rollout.version, hold, reason, decision, doc["gates"])
        entry["controller"] = self.owner
        if config_hash is not None:
            entry["config_hash"] = config_hash
        await self.store.audit.append(entry)
        return hold | {"warned": now, "reason": reason}

    async def _approaching(
        self, rollout: Rollout, decision: Decision, earlier: dict[str, Any] | None
    ) -> list[str]:
        """The gates told to be nearing their bound in this stage: each audited once."""
        told = list((earlier or {}).get("approaching") or [])
        bounds = {g.key: g.bound_for(rollout.plan.tier) for g in rollout.plan.gates}
        state = decision.state
        where = {"phase": state.phase, "stage": state.stage, "weight": state.weight}
        for result in decision.gates:
            bound = bounds.get(result.gate)
            if result.gate in told or bound is None or not approaching(result, bound):
                continue
            entry = approach_entry(rollout.name, rollout.version, result, bound, where)
            log.info("rollout %s: %s", rollout.name, entry["reason"])
            await self.store.audit.append(entry | {"controller": self.owner})
            told.append(result.gate)
        return told

    def _say_unobservable(
        self, name: str, doc: dict[str, Any], earlier: dict[str, Any] | None
    ) -> None:
        said = {g["gate"] for g in (earlier or {}).get("gates", []) if g.get("unobservable")}
        for gate in doc["gates"]:
            if gate["unobservable"] and gate["gate"] not in said:
                why = gate["unobservable"]
                log.warning("rollout %s: gate %s is unobservable: %s", name, gate["gate"], why)


def _same_stage(before: dict[str, Any] | None, doc: dict[str, Any]) -> bool:
    """The stored look is of the same version and stage (its warnings still stand)."""
    return (
        before is not None
        and before.get("version") == doc["version"]
        and before.get("since") == doc["since"]
    )


def _fresh(before: dict[str, Any], doc: dict[str, Any], now: float) -> bool:
    written = before.get("written")
    recent = isinstance(written, int | float) and now - written < REFRESH_SECONDS
    return recent and before.get("digest") == doc["digest"]
