"""Prometheus metrics of state documents the store lost: written back, or held for a person.

Set wherever a state keeper runs (rollout/control/state_keeper.py): the replicas of `rollout
serve` and the controller process.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

STATE_RESTORED = Counter(
    "llm_rollout_state_restored",
    "State documents the store lost and this process wrote back from what it knew (rollout"
    " empty: the flag overrides).",
    ["rollout"],
)
STATE_LOST = Gauge(
    "llm_rollout_state_lost",
    "1 while the rollout holds on the baseline because the store lost its state and nothing"
    " was known of its version: an operator decides (rollout resume, or set its weight).",
    ["rollout"],
    multiprocess_mode="livemax",
)

# Who holds each rollout in this process: a replica's runtime (no state to serve) and the
# controller (paused until a person decides) may run in one process; the gauge is 1 while
# either holds.
_holders: dict[str, set[str]] = {}


def set_held(rollout: str, holder: str, held: bool) -> None:
    """Record whether `holder` holds `rollout` on the baseline, and set the gauge."""
    holders = _holders.setdefault(rollout, set())
    if held:
        holders.add(holder)
    else:
        holders.discard(holder)
    STATE_LOST.labels(rollout).set(1 if holders else 0)
