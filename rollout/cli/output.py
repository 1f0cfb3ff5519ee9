"""How the admin commands print: tables for people, JSON for tools."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

# The audit fields shown as before→after, in this order, when an entry has them.
CHANGE_FIELDS = ("weight", "max_weight", "killed", "epoch", "phase", "enabled", "percent")


def print_json(body: Any) -> int:
    print(json.dumps(body, indent=2, sort_keys=True))
    return 0


def print_table(header: Sequence[str] | None, rows: Sequence[Sequence[str]]) -> None:
    """Columns padded to their widest cell; `header` None: rows only."""
    every = [header, *rows] if header is not None else list(rows)
    widths = [max(len(row[i]) for row in every) for i in range(len(every[0]))]
    for row in every:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def state_line(body: dict[str, Any]) -> str:
    return (
        f"{body.get('name')}: weight {pct(body.get('weight'))}"
        f" (max {pct(body.get('max_weight'))}), killed {yes_no(body.get('killed'))},"
        f" epoch {body.get('epoch')}"
    )


def change_summary(before: dict[str, Any], after: dict[str, Any]) -> str:
    parts = []
    for key in CHANGE_FIELDS:
        if key not in before and key not in after:
            continue
        old, new = before.get(key), after.get(key)
        if old != new:
            parts.append(f"{key} {show(key, old)}→{show(key, new)}")
    return ", ".join(parts) or "no change"


def show(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key in ("weight", "max_weight"):
        return pct(value)
    if key == "percent":
        return f"{value:g}%"
    if isinstance(value, bool):
        return "on" if key == "enabled" and value else "off" if key == "enabled" else yes_no(value)
    return str(value)


def pct(fraction: Any) -> str:
    if not isinstance(fraction, int | float):
        return "-"
    return f"{round(fraction * 100, 2):g}%"


def yes_no(value: Any) -> str:
    return "yes" if value else "no"


def iso(ts: Any) -> str:
    if not isinstance(ts, int | float):
        return "-"
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def rollout_rows(entry: dict[str, Any], now: float) -> list[list[str]]:
    """One rollout as rows of (field, value), for people: where the ramp stands and why."""
    automatic = entry.get("automatic")
    accepted = entry.get("accepted") or []
    rows = [
        ["phase", str(entry.get("phase") or "-") if automatic else "- (steered by hand)"],
        ["stage", pct((entry.get("stage") or 0) / 100) if entry.get("stage") else "-"],
        ["weight", f"{pct(entry.get('weight'))} (max {pct(entry.get('max_weight'))})"],
        ["since", since(entry.get("since"), now)],
        ["awaiting", str(entry.get("awaiting") or "-")],
        ["accepted", f"{', '.join(accepted)} (extra monitoring)" if accepted else "-"],
        *([["eval", eval_line(entry["eval"], now)]] if entry.get("eval") else []),
        ["regression test", regression_test_line(entry.get("regression_test"))],
        ["killed", yes_no(entry.get("killed"))],
        ["epoch", str(entry.get("epoch"))],
        ["source", str(entry.get("source"))],
    ]
    if entry.get("shadow"):
        rows.append(["shadow", shadow_summary(entry["shadow"])])
    if entry.get("scoring"):
        rows.append(["scoring", scoring_summary(entry["scoring"])])
    if entry.get("problem"):
        rows.append(["problem", str(entry["problem"])])
    return rows if automatic else [r for r in rows if r[0] not in _CONTROLLER_ONLY]


_CONTROLLER_ONLY = ("stage", "since", "awaiting", "accepted", "regression test")


def eval_line(view: dict[str, Any] | None, now: float) -> str:
    """The version's recorded eval: `pass at tier prod, dataset 3f2a9c1b7e0d, by alice,
    <when> (4m ago); required at prod: passed`, or `required at prod, none recorded`."""
    if not view:
        return "-"
    required = view.get("required")
    if view.get("verdict") is None:
        return f"required at {required}, none recorded"
    line = (
        f"{view['verdict']} at tier {view.get('tier')}, dataset {view.get('dataset_digest')},"
        f" by {view.get('by')}, {since(view.get('at'), now)}"
    )
    return f"{line}; required at {required}: {view.get('standing')}" if required else line


def regression_test_line(test: dict[str, Any] | None) -> str:
    """`due at 500 first-stage candidate requests`, or what it was made for."""
    if not test:
        return "none (breaches only)"
    if test.get("made"):
        return f"made for {', '.join(test['made'])}"
    return f"due at {test.get('requests')} first-stage candidate requests"


def scoring_summary(scoring: dict[str, Any]) -> str:
    """`safety, style on baseline 5%, candidate 20%, shadow 10%; queue 0 waiting, 1 running;
    12 calls in the last minute; $0.0100 of $2/h`."""
    state = "" if scoring.get("active", True) else "not scoring (killed or ended); "
    sample = ", ".join(f"{arm} {share * 100:g}%" for arm, share in scoring["sample"].items())
    parts = [
        f"{state}{', '.join(scoring['scorers'])} on {sample}, shadow {scoring['shadow'] * 100:g}%",
        f"queue {scoring['queued']} waiting, {scoring['in_flight']} running",
    ]
    if scoring.get("calls_last_minute") is not None:
        parts.append(f"{scoring['calls_last_minute']} calls in the last minute")
    return "; ".join(parts + _budget(scoring.get("budget")))


def shadow_summary(shadow: dict[str, Any]) -> str:
    """`mirroring 10% per subject, noise 10%; queue 0 waiting, 2 running; CPU 45% of 60%;
    $0.41 of $5/h`."""
    state = "mirroring" if shadow.get("active") else "not mirroring (weight > 0, killed or ended)"
    parts = [
        f"{state} {shadow.get('share', 0) * 100:g}% per {shadow.get('per')},"
        f" noise {shadow.get('noise_share', 0) * 100:g}%",
        f"queue {shadow.get('queued')} waiting, {shadow.get('in_flight')} running",
    ]
    max_cpu, cpu = shadow.get("max_cpu"), shadow.get("cpu_share")
    if max_cpu is not None and max_cpu < 1 and cpu is not None:  # 1: no CPU check
        busy = ", BUSY: not mirroring" if cpu > max_cpu else ""
        parts.append(f"CPU {cpu * 100:.0f}% of {max_cpu * 100:g}%{busy}")
    return "; ".join(parts + _budget(shadow.get("budget")))


def _budget(budget: dict[str, Any] | None) -> list[str]:
    """`$0.41 of $5/h`, `, PAUSED` once spent; nothing without a budget."""
    if not budget:
        return []
    paused = ", PAUSED" if budget.get("paused") else ""
    return [f"${budget['spent_last_hour']:.4f} of ${budget['usd_per_hour']:g}/h{paused}"]


def phase_line(body: dict[str, Any]) -> str:
    """After a person's action: `auto: ramping at 25%, awaiting stage:50`."""
    line = f"{body.get('name')}: {body.get('phase')} at {pct(body.get('weight'))}"
    if body.get("awaiting"):
        line += f", awaiting {body['awaiting']}"
    if body.get("accepted"):
        line += f", accepted {', '.join(body['accepted'])} (extra monitoring)"
    return line


def since(ts: Any, now: float) -> str:
    """`2026-11-30T10:00:00Z (4m 10s ago)`."""
    if not isinstance(ts, int | float):
        return "-"
    seconds = max(0, int(now - ts))
    hours, rest = divmod(seconds, 3600)
    parts = [f"{hours}h"] if hours else []
    parts += [f"{rest // 60}m"] if hours or rest >= 60 else []
    return f"{iso(ts)} ({' '.join([*parts, f'{rest % 60}s'])} ago)"
