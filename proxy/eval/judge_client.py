"""The judges' LLM calls for `rollout eval`, over the proxy's own upstream code: the harness's
`Upstream` sessions (connection pools, configured credentials, timeouts), the upstream error
mapping of the forward stage, the side parsers that read usage, text and tool calls, the
refusal detector and the price table. rollout/scorers/ builds the judge's request and reads its
verdict; this sends it and says what came back (`Completion`), and what it cost.

A 429, 5xx or lost connection is tried again (three times, exponential backoff with jitter);
the judge's own retry for a malformed verdict is the scorer's.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
import orjson

from proxy.observe.base import Observation
from proxy.stages.observe import OBSERVERS
from proxy.upstream import Upstream
from proxy.upstream_errors import upstream_error
from rollout.errors import ProxyError, UpstreamTimeout
from rollout.quality.pricing import PriceTable
from rollout.quality.refusal import RefusalDetector
from rollout.scorers.base import Completion

ANTHROPIC_VERSION = "2023-06-01"
PATHS = {
    "openai": ("/chat/completions", "openai.chat"),
    "anthropic": ("/messages", "anthropic.messages"),
}
RETRIES = 3
BACKOFF = 0.5  # seconds before the first retry; doubled each time


class JudgeClient:
    def __init__(
        self,
        upstreams: Mapping[str, Upstream],
        prices: PriceTable,
        refusals: RefusalDetector,
        on_spend: Callable[[float], None] = lambda usd: None,
        backoff: float = BACKOFF,
    ) -> None:
        self.upstreams, self.prices, self.refusals = upstreams, prices, refusals
        self.on_spend, self.backoff = on_spend, backoff
        self.calls = 0

    async def complete(self, provider: str, body: dict[str, Any]) -> Completion:
        """`rollout.scorers.base.Complete`: one judge request, retried while the provider is
        busy or failing."""
        upstream = self.upstreams[provider]
        completion = Completion(None, error="not_sent")
        for attempt in range(RETRIES + 1):
            if attempt:
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1) * (0.5 + random.random()))
            completion, retry = await self._send(upstream, body)
            if not retry:
                break
        return completion

    async def _send(self, upstream: Upstream, body: dict[str, Any]) -> tuple[Completion, bool]:
        path, api = PATHS[upstream.kind]
        headers = {"content-type": "application/json"}
        if upstream.credential is not None:
            headers[upstream.credential[0]] = upstream.credential[1]
        if upstream.kind == "anthropic":
            headers["anthropic-version"] = ANTHROPIC_VERSION
        timeouts = upstream.timeouts
        timeout = aiohttp.ClientTimeout(total=timeouts.total, sock_read=timeouts.first_byte)
        self.calls += 1
        try:
            async with upstream.session.post(
                upstream.base_url + path, data=orjson.dumps(body), headers=headers, timeout=timeout
            ) as response:
                raw = await response.read()
                status, encoding = response.status, response.headers.get("content-encoding")
        except Exception as exc:  # mapped as the forward stage maps it
            error = upstream_error(exc, upstream, lambda: _timeout(upstream))
            return Completion(None, error=error.kind), True
        if status >= 300:
            return Completion(None, error=f"http_{status}"), status == 429 or status >= 500
        observer = OBSERVERS[api](False, capture=True)
        observer.start(status, encoding)
        observer.feed(raw)
        return self._completion(observer.finish(), body.get("model")), False

    def _completion(self, obs: Observation, model: Any) -> Completion:
        cost = None
        if obs.usage is not None and isinstance(model, str):
            cost = self.prices.cost(model, obs.usage)
            if cost is not None:
                self.on_spend(cost)
        refused = obs.provider_refusal or (
            bool(obs.text_start) and self.refusals.is_refusal(obs.text_start)
        )
        return Completion(
            text=obs.content,
            refused=refused,
            tool_calls=tuple(obs.tool_calls),
            cost_usd=cost,
        )


def _timeout(upstream: Upstream) -> ProxyError:
    return UpstreamTimeout("total", upstream.timeouts.total)
