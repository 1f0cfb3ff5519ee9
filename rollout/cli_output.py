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


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
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
