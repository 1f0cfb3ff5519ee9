"""One side of a shadow pair (the live answer, the candidate's, a second baseline call) reduced
to what the comparators need, and to what people read in a kept pair."""

from __future__ import annotations

from typing import Any

from proxy.exchange import Exchange
from proxy.stages.record import error_kind
from rollout.quality.compare import SideResult, cap_text, normalize_finish
from rollout.quality.redact import Redactor


def side_result(ex: Exchange) -> SideResult:
    obs = ex.observation
    ttft = None
    if obs is not None and ex.stream and obs.first_token_at is not None:
        ttft = obs.first_token_at - ex.started
    return SideResult(
        error=error_kind(ex),
        refused=ex.refusal is not None,
        json_result=ex.json_result,
        tools=tuple(name for name, _ in obs.tool_calls) if obs is not None else (),
        finish=normalize_finish(obs.finish_reason) if obs is not None else None,
        text=cap_text(obs.content) if obs is not None else None,
        output_chars=obs.output_chars if obs is not None else 0,
        output_tokens=obs.usage.output_tokens if obs is not None and obs.usage else None,
        ttft=ttft,
        duration=ex.duration,
        cost_usd=ex.cost_usd,
    )


def side_doc(ex: Exchange, side: SideResult, redactor: Redactor) -> dict[str, Any]:
    """A side as kept in the store for `rollout pairs`: redacted, numbers rounded for reading."""
    return {
        "arm": ex.arm,
        "role": ex.role,
        "provider": ex.upstream.name if ex.upstream is not None else None,
        "model": ex.model,
        "status": ex.status,
        "error": side.error,
        "refused": side.refused,
        "json": side.json_result,
        "finish": side.finish,
        "tools": list(side.tools),
        "text": redactor.redact(side.text) if side.text is not None else None,
        "output_chars": side.output_chars,
        "output_tokens": side.output_tokens,
        "ttft": _round(side.ttft),
        "duration": _round(side.duration),
        "cost_usd": side.cost_usd,
    }


def _round(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 4)
