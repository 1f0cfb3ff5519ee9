"""A recorded eval result: evidence that a candidate version passed its offline gates.

`rollout eval --record` writes it; a plan with `require_eval` makes the controller wait for it
before a version sees any traffic. Document `eval/<rollout>` (JSON), one entry per candidate
version (the newest `KEEP` kept):
    {"versions": {"3f2a...": {"verdict": "pass", "tier": "prod", "dataset_digest": "...",
                              "gates": [...], "by": "alice", "at": 1765000000.0, ...}}}
Every record is audited (`eval_recorded`).
"""

from __future__ import annotations

from typing import Any, Literal

from rollout.control.operations import ChangeConflict, publish_change
from rollout.store import Store

KEEP = 20  # versions whose evidence is kept per rollout
TIER_RANK = {"dev": 0, "staging": 1, "prod": 2}
Standing = Literal["passed", "conditional", "failed", "missing"]
_ATTEMPTS = 5


def eval_key(rollout: str) -> str:
    return f"eval/{rollout}"


async def record_eval(store: Store, rollout: str, entry: dict[str, Any], actor: str) -> None:
    """Store `entry` (it carries `version`) as the evidence for its version, and audit it."""
    key, version = eval_key(rollout), entry["version"]
    for _ in range(_ATTEMPTS):
        doc, rev = await store.documents.read(key)
        versions = dict((doc or {}).get("versions") or {})
        versions.pop(version, None)  # re-inserted last: the newest stays at the end
        versions[version] = entry
        kept = dict(list(versions.items())[-KEEP:])
        if await store.documents.write(key, {"versions": kept}, rev) is not None:
            await store.audit.append(
                {
                    "action": "eval_recorded",
                    "actor": actor,
                    "reason": f"rollout eval: {entry['verdict']} at tier {entry['tier']}",
                    "rollout": rollout,
                    "version": version,
                    "after": {k: v for k, v in entry.items() if k != "gates"},
                }
            )
            await publish_change(store, key)
            return
    raise ChangeConflict(f"the eval evidence of {rollout!r} kept changing; nothing was recorded")


async def read_eval(store: Store, rollout: str, version: str) -> dict[str, Any] | None:
    doc, _ = await store.documents.read(eval_key(rollout))
    return eval_of(doc, version)


def eval_of(doc: dict[str, Any] | None, version: str) -> dict[str, Any] | None:
    """The evidence of `version` in a rollout's eval document, as read; None when none."""
    found = ((doc or {}).get("versions") or {}).get(version)
    return found if isinstance(found, dict) else None


def standing(entry: dict[str, Any] | None, required_tier: str) -> Standing:
    """What the evidence says for a plan that requires an eval at `required_tier`: a result at a
    looser tier than required is no evidence."""
    if entry is None or TIER_RANK.get(entry.get("tier", ""), -1) < TIER_RANK[required_tier]:
        return "missing"
    verdict = entry.get("verdict")
    if verdict == "pass":
        return "passed"
    if verdict == "conditional_pass":
        return "conditional"
    if verdict == "fail":
        return "failed"
    return "missing"  # could not tell: no evidence either way
