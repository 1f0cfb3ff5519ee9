"""Which audit entries people want to hear of, and what they are told: the whole entry (the
decision record: who, what, why, the gates and their numbers) plus a one-line `text` that chat
tools (Slack's incoming webhooks) show as is."""

from __future__ import annotations

from typing import Any

# An audit entry's action -> the event receivers subscribe to.
EVENTS_BY_ACTION = {
    "roll_back": "rollback",
    "rollback": "rollback",
    "await_approval": "approval_needed",
    "approve": "approved",
    "promote": "promotion",
    "complete": "completion",
    "kill": "kill_switch",
    "pause": "paused",
    "resume": "resumed",
    "state_restored": "state_restored",
    "state_lost": "state_lost",
    "eval_recorded": "eval_recorded",
    "hold_too_long": "hold_too_long",
    "gate_approaching": "gate_approaching",
}


def event_of(entry: dict[str, Any]) -> str | None:
    return EVENTS_BY_ACTION.get(str(entry.get("action")))


def message(entry: dict[str, Any], event: str) -> dict[str, Any]:
    return {"event": event, "id": entry.get("id"), "text": text(entry, event), "entry": entry}


def text(entry: dict[str, Any], event: str) -> str:
    rollout = entry.get("rollout") or "-"
    after = entry.get("after") or {}
    why = entry.get("reason") or "no reason given"
    head = {
        "rollback": f"⏪ {rollout} rolled back: every replica serves the baseline",
        "approval_needed": f"✋ {rollout} waits for an approver ({after.get('awaiting')})",
        "approved": f"✅ {rollout} approved by {entry.get('actor')}",
        "promotion": f"⏩ {rollout} promoted to {_percent(after.get('weight'))}",
        "completion": f"🏁 {rollout} completed: the candidate serves everyone",
        "kill_switch": f"🛑 {rollout} killed by {entry.get('actor')}",
        "paused": f"⏸ {rollout} paused by {entry.get('actor')}",
        "resumed": f"▶ {rollout} resumed by {entry.get('actor')}",
        "state_restored": f"♻ {rollout}: state the store lost was written back",
        "state_lost": f"⚠ {rollout} holds on the baseline: the store lost its state",
        "eval_recorded": f"🧪 {rollout}: eval recorded by {entry.get('actor')}",
        "hold_too_long": f"⏳ {rollout} has held its stage for long",
        "gate_approaching": f"📈 {rollout}: a gate nears its bound",
    }.get(event, f"{rollout}: {event}")
    line = f"{head}. {why.rstrip('.')}."
    failing = [g for g in entry.get("gates") or [] if g.get("verdict") == "fail"]
    if failing:
        line += " Failing: " + ", ".join(_gate(g) for g in failing) + "."
    if event == "approval_needed":
        line += f' `rollout approve {rollout} --reason "..."` lets it go on.'
    return line


def _percent(weight: object) -> str:
    return f"{weight * 100:g}%" if isinstance(weight, int | float) else "?"


def _gate(gate: dict[str, Any]) -> str:
    interval = gate.get("interval") or {}
    low, high = interval.get("low"), interval.get("high")
    span = f" [{low:.4g}, {high:.4g}]" if isinstance(low, float) and isinstance(high, float) else ""
    return f"{gate.get('gate')} ({gate.get('bound')}){span}"
