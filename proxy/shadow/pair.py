"""One shadow job: the live request sent again to the candidate (and, on the noise sample, to
the baseline a second time), each as an exchange of its own with role "shadow" through the same
stages as live traffic, then compared with the live answer.

Runs in a shadow queue worker, after the live response is complete: nothing here can delay or
change it. A shadow exchange starts from the request exactly as the client sent it (its raw body
parsed afresh), gets its arm's variant and the live request's flag edits (the guardrails apply to
every arm), and is observed, judged and recorded like a live one: its tokens and cost count under
role="shadow", never as live spend.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from time import time
from typing import TYPE_CHECKING, Any

import orjson

from proxy.exchange import Exchange
from proxy.pipeline import Stage, run_guarded
from proxy.shadow.mirror import RolloutMirror
from proxy.shadow.send import ShadowSend
from proxy.shadow.sides import side_doc, side_result
from proxy.stages.record import error_kind
from rollout.quality.compare import Comparison, SideResult, compare, disagreements
from rollout.quality.redact import clip_strings

if TYPE_CHECKING:
    from proxy.scoring.rollout_scoring import RolloutScoring

log = logging.getLogger("llm_rollout.shadow")

STRING_CAP = 4_000  # characters of each request string kept in a stored pair


class ShadowStages:
    """The live pipeline's stages around a send that answers no one."""

    def __init__(self, before: Sequence[Stage], after: Sequence[Stage]) -> None:
        self.before, self.after = tuple(before), tuple(after)

    async def run(self, ex: Exchange, send: ShadowSend, live: Exchange) -> None:
        for stage in self.before:
            await run_guarded(stage, ex)
        await send(ex, live.upstream, live.shadow.pair_id)  # type: ignore[union-attr]
        for stage in self.after:
            await run_guarded(stage, ex)


def shadow_exchange(live: Exchange, arm: str) -> Exchange:
    """A fresh exchange for `arm`, from the live request as the client sent it."""
    assert live.body is not None and live.route is not None
    payload = orjson.loads(live.body)
    model = payload.get("model")
    return Exchange(
        live.request,
        live.candidates,
        body=live.body,
        api=live.api,
        payload=payload,
        payload_changed=True,
        model=model if isinstance(model, str) else None,
        stream=live.stream,
        route=live.route,
        subject=live.subject,
        governing=live.governing,
        rollout=live.rollout,
        flag_edits=list(live.flag_edits),
        arm=arm,
        assigned_by="shadow",
        role="shadow",
        shadow=live.shadow,  # the observer captures the text, as the live one did
        upstream=live.route.upstream,
    )


@dataclass(frozen=True, slots=True)
class _Compared:
    """One shadow side against the live answer."""

    exchange: Exchange
    side: SideResult
    comparison: Comparison
    disagreements: dict[str, bool]


async def run_pair(mirror: RolloutMirror, stages: ShadowStages, live: Exchange) -> None:
    ticket = live.shadow
    assert ticket is not None
    sides = {"candidate": shadow_exchange(live, "candidate")}
    if ticket.noise:
        sides["noise"] = shadow_exchange(live, "baseline")
        await asyncio.gather(*(stages.run(ex, mirror.send, live) for ex in sides.values()))
    else:  # one side, most jobs: no task and no gather future for it
        await stages.run(sides["candidate"], mirror.send, live)
    if mirror.budget is not None:
        for ex in sides.values():
            mirror.budget.spend(ex.cost_usd)
    live_side, now = side_result(live), time()
    compared: dict[str, _Compared] = {}
    for kind, ex in sides.items():
        side = side_result(ex)
        comparison = compare(live_side, side)
        found = disagreements(comparison, mirror.thresholds)
        mirror.count(kind, found, now)
        compared[kind] = _Compared(ex, side, comparison, found)
        if side.error is not None:
            log.info("shadow pair %s: %s call failed: %s", ticket.pair_id, kind, side.error)
    if mirror.scoring is not None:
        score_pair(mirror.scoring, live, sides["candidate"])
    if mirror.should_keep():
        await mirror.keep(_pair_doc(mirror, live, live_side, compared, ticket.pair_id, now))


def score_pair(scoring: RolloutScoring, live: Exchange, candidate: Exchange) -> None:
    """On the scoring's `shadow` share of pairs: the candidate's answer (role "shadow") and the
    live answer (unless it is scored already as a live sample), each only if it answered."""
    if not scoring.pair_sampled():
        return
    sides = [candidate] + ([live] if live.scoring is None else [])
    answered = [ex for ex in sides if ex.observation is not None and error_kind(ex) is None]
    if answered and scoring.admit(len(answered)):
        scoring.submit(answered)


def _pair_doc(
    mirror: RolloutMirror,
    live: Exchange,
    live_side: SideResult,
    compared: dict[str, _Compared],
    pair_id: str,
    now: float,
) -> dict[str, Any]:
    redactor = mirror.redactor
    candidate = compared["candidate"].comparison
    doc: dict[str, Any] = {
        "pair": pair_id,
        "ts": now,
        "rollout": live.rollout,
        "version": mirror.rollout.version,
        "api": live.api,
        "request": clip_strings(redactor.redact_json(orjson.loads(live.body)), STRING_CAP),  # type: ignore[arg-type]
        "live": side_doc(live, live_side, redactor),
        "similarity": candidate.similarity,
        "length_ratio": candidate.length_ratio,
        "disagreements": {kind: c.disagreements for kind, c in compared.items()},
    }
    for kind, c in compared.items():
        doc[kind] = side_doc(c.exchange, c.side, redactor)
    return doc
