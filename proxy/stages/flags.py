"""Apply the feature flags that match the request, in config order.

Flags only judge parsed LLM requests: a passthrough request, or a body that is not a JSON object
(malformed, compressed), carries none of the facts a flag looks at and is forwarded untouched;
the provider gives such a request its own, authoritative answer.

Two stages. `Flags` (before assign) judges every flag against the request as the client sent
it: a deny answers the client at once (in its provider's error shape), whatever the flags after
it would have done; the first flag that forces an arm wins. `FlagEdits` (after rewrite) applies
the matching flags' route, cap, set and strip_tools in config order, after the arm's variant: a
flag is a guardrail, so "free tier -> cheaper model" or "cap max_tokens" holds for the candidate
too, whatever its variant sets.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from proxy import metrics
from proxy.exchange import Exchange
from proxy.upstream import Upstream
from rollout.config.flags import Effect
from rollout.errors import Denied
from rollout.targeting.flags import FlagSet, cap_fields, set_fields, strip_tools


class Flags:
    name = "flags"

    def __init__(self, flags: FlagSet, upstreams: Mapping[str, Upstream]) -> None:
        self.flags = flags
        self.upstreams = upstreams
        # Children bound once: a match costs one increment, not a label lookup. Bound per name
        # for the process, not per generation: a reload of 2,000 flags would bind them all
        # again on the event loop (~40 ms).
        self._matched = {f.name: _match_counter(f.name) for f in flags.flags}

    async def __call__(self, ex: Exchange) -> None:
        payload = ex.payload
        if payload is None or not self.flags:
            return
        for flag in self.flags.evaluate(ex):
            ex.flags.append(flag.name)
            self._matched[flag.name].inc()
            effect = flag.effect
            if effect.deny is not None:
                raise Denied(effect.deny.message, effect.deny.status)
            if effect.arm is not None and ex.forced_arm is None:
                ex.forced_arm = effect.arm
            if effect.route or effect.cap or effect.set or effect.strip_tools:
                ex.flag_edits.append(effect)


_MATCH_COUNTERS: dict[str, Any] = {}


def _match_counter(flag: str) -> Any:
    counter = _MATCH_COUNTERS.get(flag)
    if counter is None:
        counter = _MATCH_COUNTERS[flag] = metrics.FLAG_MATCHES.labels(flag)
    return counter


class FlagEdits:
    name = "flag_edits"

    def __init__(self, upstreams: Mapping[str, Upstream]) -> None:
        self.upstreams = upstreams

    async def __call__(self, ex: Exchange) -> None:
        payload = ex.payload
        if payload is None:
            return
        for effect in ex.flag_edits:
            if effect.route is not None:
                self._route(effect, ex, payload)
            changed = bool(effect.cap) and cap_fields(ex.api, payload, effect.cap)
            changed |= bool(effect.set) and set_fields(payload, effect.set)
            changed |= effect.strip_tools and strip_tools(ex.api, payload)
            if changed:
                ex.payload_changed = True

    def _route(self, effect: Effect, ex: Exchange, payload: dict[str, Any]) -> None:
        route = effect.route
        assert route is not None
        if route.provider is not None:
            # The config loader checked that the provider exists and speaks the route's API.
            ex.upstream = self.upstreams[route.provider]
        if route.model is not None and payload.get("model") != route.model:
            payload["model"] = ex.model = route.model
            ex.payload_changed = True
