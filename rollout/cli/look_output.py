"""The controller's last look in `rollout status`: what it decided, and for every gate why it does
not pass yet and how much more it needs (the look document: rollout/control/look.py)."""

from __future__ import annotations

from typing import Any

from rollout.cli.output import since


def look_rows(look: dict[str, Any] | None, now: float) -> list[list[str]]:
    """`look`, one `gate <name>` row per gate, and `held` once a hold was warned about."""
    if not look:
        return []
    rows = [["look", look_line(look, now)]]
    rows += [[f"gate {g['gate']}", gate_line(g, look)] for g in look.get("gates", [])]
    hold = look.get("hold")
    if hold:
        rows.append(["held", f"{hold.get('reason')} (audited hold_too_long)"])
    return rows


def look_line(look: dict[str, Any], now: float) -> str:
    """`hold, 2026-11-30T10:00:00Z (12s ago); 120 candidate requests in 2m (60/min)`."""
    cand = look.get("candidate") or {}
    rate = cand.get("per_minute")
    seen = f"{cand.get('requests')} candidate requests in {_duration(cand.get('seconds'))}"
    return f"{look.get('action')}, {since(look.get('at'), now)}; {seen}" + (
        f" ({_number(rate)}/min)" if rate is not None else ""
    )


def gate_line(gate: dict[str, Any], look: dict[str, Any]) -> str:
    """The verdict, why, and what it still needs: `no_data: candidate has 40 samples, needs 100;
    needs ~60 more candidate requests (~1 min at 60/min)`."""
    line = gate["verdict"] if gate["verdict"] == "pass" else f"{gate['verdict']}: {gate['reason']}"
    if gate.get("unobservable"):
        return f"{line}; UNOBSERVABLE: {gate['unobservable']}"
    needs = gate.get("needs")
    if not needs:
        return line
    note = f" {needs['note']}" if needs.get("note") and needs.get("requests") else ""
    if needs.get("requests") is None:
        return f"{line}; {needs['note']}" if needs.get("note") else line
    more = f"needs ~{_number(needs['requests'])} more candidate requests{note}"
    minutes, rate = needs.get("minutes"), (look.get("candidate") or {}).get("per_minute")
    if minutes is not None and rate:
        more += f" ({_time(minutes)} at {_number(rate)}/min)"
    return f"{line}; {more}"


def _number(x: float) -> str:
    """Two significant digits, as the controller rounded them: 1200, 9.5, 0.31."""
    return f"{float(f'{x:.2g}'):g}" if x < 1e6 else f"{x:.2g}"


def _time(minutes: float) -> str:
    """`~17s`, `~9.5 min`, `~3.2 h`, `~4.1 days`."""
    if minutes < 1:
        return f"~{minutes * 60:.0f}s"
    if minutes < 120:
        return f"~{_number(minutes)} min"
    hours = minutes / 60
    return f"~{_number(hours)} h" if hours < 48 else f"~{_number(hours / 24)} days"


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return "-"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m {rest}s" if minutes else f"{rest}s"
