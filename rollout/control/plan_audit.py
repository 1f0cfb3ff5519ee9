"""Notice, and audit once, that a running rollout's plan was edited in config.

The state document keeps a summary of the plan the rollout is ramping under (`plan`). When the
controller looks at a rollout under a plan whose summary differs, it stores the new summary with
the stage mapped onto the new stage list (progress is kept: `Plan.stage_for_weight`) and appends
one `config_reload` audit entry, before and after. The document, not memory, says which plan was
last seen, so a restarted controller, or another replica's once it leads, audits the edit
exactly once. A new candidate (a new version) is a new rollout, not an edit: its document
starts afresh.

A config reaches the replicas one by one (a ConfigMap takes up to a minute to reach every pod).
The document also keeps when the file that brought the stored plan was modified (`plan_file_time`):
a controller whose own file is older, and whose plan differs, has not seen the edit yet. It must
not write its old plan back (and audit that as an edit, and the real one again later), so it
raises StaleConfig and the look is skipped until its file is reloaded. A deliberate revert to an
earlier plan comes in a newer file, and is noted as any edit.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from rollout.config.changes import fields_difference
from rollout.config.plan import DEFAULT_HOLD_WARNING_FACTOR, Plan
from rollout.config.rollouts import Rollout
from rollout.control.decide import RolloutState
from rollout.control.live_state import state_key
from rollout.errors import RolloutError
from rollout.store import Store

PLAN_FIELD = "plan"
PLAN_TIME_FIELD = "plan_file_time"


class StaleConfig(RolloutError):
    """This controller's config is older than the one the rollout's stored plan came from."""


def plan_summary(plan: Plan) -> dict[str, Any]:
    """The plan as kept in the state document and the audit: every field, and a hash."""
    doc = plan.model_dump(mode="json")
    if doc.get("require_eval") is None:
        # Left out while unset: plans stored before the field existed keep their hash, so an
        # upgrade is not audited as an edit of every running plan.
        doc.pop("require_eval", None)
    if doc.get("hold_warning_factor") == DEFAULT_HOLD_WARNING_FACTOR:
        doc.pop("hold_warning_factor", None)  # the same, for a field added later
    digest = hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest()[:12]
    return {"hash": digest, **doc}


async def note_plan(
    store: Store,
    rollout: Rollout,
    doc: dict[str, Any],
    rev: int,
    state: RolloutState,
    config_hash: str | None = None,
    config_time: float | None = None,
) -> int | None:
    """Store the plan summary (and the mapped stage) when it changed; audit the edit when an
    earlier plan was recorded. `doc`/`rev`: the rollout's state document of this version, as
    just read; `config_time`: when this controller's config file was modified (None: unknown,
    not compared). Returns the document's revision now (`rev` when nothing was written), or
    None when another writer came first (the next look tries again). Raises StaleConfig when
    the stored plan came from a newer file than this controller's."""
    summary = plan_summary(rollout.plan)
    before = doc.get(PLAN_FIELD)
    if isinstance(before, dict) and before.get("hash") == summary["hash"]:
        return rev
    stored_time = doc.get(PLAN_TIME_FIELD)
    if isinstance(before, dict) and _older(config_time, stored_time):
        raise StaleConfig(
            f"rollout {rollout.name!r} runs under a plan from a config file modified at"
            f" {stored_time}, newer than this controller's ({config_time}): waiting for the"
            " reload"
        )
    new_doc = doc | {PLAN_FIELD: summary, "stage": state.stage}
    if config_time is not None:
        new_doc[PLAN_TIME_FIELD] = config_time
    written = await store.documents.write(state_key(rollout.name), new_doc, rev)
    if written is None:
        return None
    if isinstance(before, dict):
        await store.audit.append(_entry(rollout, doc, before, summary, state, config_hash))
    return written


async def remember_plan(
    store: Store, rollout: Rollout, state: RolloutState, config_time: float | None = None
) -> None:
    """Record the plan a ramp starts under, so that an edit made before the next look is seen."""
    doc, rev = await store.documents.read(state_key(rollout.name))
    if doc is not None and doc.get("version") == rollout.version:
        await note_plan(store, rollout, doc, rev, state, config_time=config_time)


def _older(config_time: float | None, stored_time: object) -> bool:
    if config_time is None or not isinstance(stored_time, int | float):
        return False
    return config_time < stored_time


def _entry(
    rollout: Rollout,
    doc: dict[str, Any],
    before: dict[str, Any],
    after: dict[str, Any],
    state: RolloutState,
    config_hash: str | None,
) -> dict[str, Any]:
    stage_before, stage_after = doc.get("stage"), state.stage
    reason = f"plan edited in config: {_summary_difference(before, after)}"
    if stage_before != stage_after:
        reason += f"; stage {stage_before} -> {stage_after} (weight {state.weight:g} kept)"
    entry = {
        "action": "config_reload",
        "actor": "config",
        "rollout": rollout.name,
        "version": rollout.version,
        "reason": reason,
        "before": {"plan": before, "stage": stage_before, "phase": doc.get("phase")},
        "after": {"plan": after, "stage": stage_after, "phase": state.phase},
    }
    if config_hash is not None:
        entry["config_hash"] = config_hash
    return entry


def _summary_difference(before: dict[str, Any], after: dict[str, Any]) -> str:
    return fields_difference(_without_hash(before), _without_hash(after))


def _without_hash(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if k != "hash"}
