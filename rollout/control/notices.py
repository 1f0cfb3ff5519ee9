"""Audit actions that record what the controller said rather than what it decided (a hold past
its factor, a gate nearing its bound): readers of the decision history leave them out."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

NOTICES = frozenset({"hold_too_long", "gate_approaching"})


def decisions(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entries if e.get("action") not in NOTICES]
