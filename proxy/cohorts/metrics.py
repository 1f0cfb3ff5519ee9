"""Prometheus metrics of rollouts on the data plane: assignments, live state, the store."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from proxy.metrics import STORE_ERRORS

__all__ = [
    "ASSIGNMENTS",
    "KILLED",
    "PROMPT_NOT_APPLIED",
    "STATE_REFRESHES",
    "STORE_ERRORS",
    "STORE_UP",
    "WEIGHT",
]

ASSIGNMENTS = Counter(
    "llm_rollout_assignments",
    "Arm assignments of governed requests, by why the arm was chosen (hash, sticky, override,"
    " flag, killed, random: no subject).",
    ["rollout", "arm", "reason"],
)
WEIGHT = Gauge(
    "llm_rollout_weight",
    "The candidate's current share of subjects (0..1), as this replica applies it.",
    ["rollout"],
    multiprocess_mode="livemax",
)
KILLED = Gauge(
    "llm_rollout_killed",
    "1 while the rollout's kill switch is on (everyone on the baseline).",
    ["rollout"],
    multiprocess_mode="livemax",
)
STORE_UP = Gauge(
    "llm_rollout_store_up",
    "1 when the last store operation succeeded, 0 while the store is unreachable.",
    multiprocess_mode="livemin",
)
PROMPT_NOT_APPLIED = Counter(
    "llm_rollout_prompt_not_applied",
    "Governed requests whose arm has a prompt the request's API cannot carry (completions,"
    " embeddings, a malformed messages list): forwarded without it.",
    ["rollout", "arm"],
)
STATE_REFRESHES = Counter(
    "llm_rollout_state_refreshes",
    "Reloads of runtime state (rollout documents, flag overrides) from the store, by trigger.",
    ["trigger"],
)
