"""Serve the request the arm's variant: its provider, model, parameters and system prompt.

Runs after assign has chosen the arm. A variant's unset fields keep what the request asked for,
so a baseline with nothing set forwards the request untouched.
"""

from __future__ import annotations

from proxy.cohorts.metrics import PROMPT_NOT_APPLIED
from proxy.exchange import Exchange
from rollout.targeting.variants import apply_model, apply_params, apply_prompt


class Rewrite:
    name = "rewrite"

    async def __call__(self, ex: Exchange) -> None:
        rollout, payload = ex.governing, ex.payload
        if rollout is None or payload is None:
            return
        variant = rollout.variants[ex.arm]
        if variant.upstream is not None:
            # Same kind as the route's provider (config checks it): forward appends the request's
            # path after the route prefix to this base URL, so the API path carries over.
            ex.upstream = variant.upstream
        if variant.fallbacks:
            ex.fallbacks = variant.fallbacks
        changed = False
        if variant.model is not None:
            changed |= apply_model(payload, variant.model)
            ex.model = variant.model
        changed |= apply_params(payload, variant.params)
        # The prompt last: it wins over a param that touches the same field (`instructions`).
        prompt = variant.prompt
        if prompt is not None:
            if apply_prompt(ex.api, payload, prompt.text, prompt.mode):
                changed = True
            else:
                ex.notes.add("prompt_not_applicable")
                PROMPT_NOT_APPLIED.labels(rollout.name, ex.arm).inc()
        if changed:
            ex.payload_changed = True
