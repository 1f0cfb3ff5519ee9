"""The controller's last look at a rollout, as a document for people: what it decided and why, and
for every gate its verdict, what it still needs (rollout/control/hold_needs.py) and whether it can
get data at all. Built purely here; written by rollout/control/look_keeper.py under `look/<name>`,
read by the admin API's rollouts view, so `rollout status` shows it wherever the controller runs.

Write rule: the look changes a little at every look (a few more requests, a narrower interval),
and a store write per rollout per look is not worth that. The document is written when its
`digest` changed: the decision (action, phase, stage), each gate's verdict and flag, and what it
still needs at one significant digit (~5000 more requests, ~3 min; the document keeps two, as
people read them), or at least every few minutes (rollout/control/look_keeper.py). `at` and
`written` say how fresh it is.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import orjson

from rollout.config.gates import Gate
from rollout.config.metrics import METRICS
from rollout.config.plan import Plan
from rollout.control.decide import Decision, RolloutState
from rollout.control.gates import GateResult
from rollout.control.hold_needs import gate_need, unobservable
from rollout.control.snapshot import Snapshot, WindowSnapshot


def look_key(rollout: str) -> str:
    return f"look/{rollout}"


def look_document(
    plan: Plan, state: RolloutState, snap: WindowSnapshot, decision: Decision, now: float
) -> dict[str, Any]:
    """The look at `state` (as read before deciding) that made `decision`."""
    in_shadow = state.phase == "shadow" or (state.phase != "ramping" and state.weight <= 0.0)
    cand = snap.shadow if in_shadow else snap.candidate
    elapsed = max(0.0, now - state.since) if state.phase != "pending" else 0.0
    gates = {g.key: g for g in plan.gates}
    doc = {
        "version": state.version,
        "at": now,
        "action": decision.action,
        "phase": decision.state.phase,
        "stage": decision.state.stage,
        "since": decision.state.since,
        "reasons": list(decision.reasons),
        "candidate": {
            "requests": cand.requests,
            "seconds": round(elapsed, 1),
            "per_minute": _rate(cand.requests, elapsed),
        },
        "gates": [
            _gate(r, gates[r.gate], plan, _arms(gates[r.gate], snap, cand), elapsed)
            for r in decision.gates
            if r.gate in gates
        ],
    }
    return doc | {"digest": digest(doc)}


def _arms(gate: Gate, snap: WindowSnapshot, cand: Snapshot) -> tuple[Snapshot, Snapshot]:
    """(baseline, candidate) as decide() judged the gate: shadow pairs against the noise."""
    return (snap.noise, snap.shadow) if METRICS[gate.metric].pairs else (snap.baseline, cand)


def _gate(
    result: GateResult, gate: Gate, plan: Plan, arms: tuple[Snapshot, Snapshot], elapsed: float
) -> dict[str, Any]:
    bound = gate.bound_for(plan.tier)
    base, cand = arms
    need = gate_need(result, bound, gate.min_sample, base, cand, elapsed)
    relative = bound.kind.endswith("_to_baseline")
    blind = unobservable(result.metric, relative, base, cand, elapsed)
    return {
        "gate": result.gate,
        "metric": result.metric,
        "class": result.klass,
        "verdict": result.verdict,
        "reason": result.reason,
        "samples": list(result.samples),
        "needs": None
        if need is None
        else {"note": need.note, "requests": need.requests, "minutes": _round(need.minutes)},
        "unobservable": blind if result.verdict == "no_data" else None,
    }


def _rate(requests: int, seconds: float) -> float | None:
    return _round(requests / seconds * 60.0) if seconds > 0 else None


def _round(x: float | None, digits: int = 2) -> float | None:
    """`digits` significant digits: what people read, and what the write rule compares."""
    if x is None or not math.isfinite(x) or x == 0:
        return x
    return round(x, digits - 1 - math.floor(math.log10(abs(x))))


def _needs(needs: dict[str, Any] | None) -> list[Any] | None:
    if needs is None:
        return None
    return [needs["note"], _round(needs["requests"], 1), _round(needs["minutes"], 1)]


def digest(doc: dict[str, Any]) -> str:
    """What a reader would act on: the decision, each gate's verdict and flag, and the numbers at
    one significant digit (~5000 more requests, ~3 min: a projection is no finer than that).
    Not the time, nor the counts and intervals, which move at every look."""
    seen = {
        "version": doc["version"],
        "decision": [doc["action"], doc["phase"], doc["stage"], doc["since"]],
        "rate": _round(doc["candidate"]["per_minute"], 1),
        "gates": [
            [g["gate"], g["verdict"], g["unobservable"] is not None, _needs(g["needs"])]
            for g in doc["gates"]
        ],
        "hold": doc.get("hold"),
        "approaching": doc.get("approaching"),  # who was told: kept, so it is said once
    }
    return hashlib.sha256(orjson.dumps(seen)).hexdigest()[:16]
