"""Observe the answer without delaying it.

`Observe` runs just before forward: it picks the side parser for the request's API, attaches it
as a tap, and asks an OpenAI stream for usage when the client did not. `Conclude` runs after the
client has its last byte: it finishes the parse and judges refusal, JSON validity and cost.
"""

from __future__ import annotations

from proxy.exchange import Exchange
from proxy.observe.anthropic_messages import AnthropicObserver
from proxy.observe.base import Observation, Observer
from proxy.observe.expect import JsonExpectation, expected_json
from proxy.observe.openai_chat import OpenAIChatObserver
from proxy.observe.openai_responses import OpenAIResponsesObserver
from proxy.observe.stream_usage import UsageChunkStripper, ask_for_usage
from rollout.quality.json_validity import check_json, check_tool_arguments
from rollout.quality.pricing import PriceTable
from rollout.quality.refusal import RefusalDetector

OBSERVERS: dict[str, type[Observer]] = {
    "openai.chat": OpenAIChatObserver,
    "openai.completions": OpenAIChatObserver,
    "openai.embeddings": OpenAIChatObserver,
    "openai.responses": OpenAIResponsesObserver,
    "anthropic.messages": AnthropicObserver,
}
_USAGE_ON_REQUEST = ("openai.chat", "openai.completions")


class Observe:
    name = "observe"

    def __init__(self, inject_stream_usage: dict[str, bool]) -> None:
        self.inject_stream_usage = inject_stream_usage  # per provider name

    async def __call__(self, ex: Exchange) -> None:
        payload, api = ex.payload, ex.api
        if payload is None or api is None:
            return
        ex.expect = expected_json(api, payload)
        # The text is kept when JSON must be checked, to compare it with a shadow's, to score
        # it online, or for an eval's expectations.
        capture = (
            (ex.expect is not None and ex.expect.content)
            or ex.shadow is not None
            or ex.scoring is not None
            or ex.role == "eval"
        )
        observer = OBSERVERS[api](ex.stream, capture=capture)
        if (
            api in _USAGE_ON_REQUEST
            and ex.upstream is not None
            and self.inject_stream_usage.get(ex.upstream.name, True)
            and ask_for_usage(payload)
        ):
            ex.payload_changed = True
            ex.chunk_filter = UsageChunkStripper()
        ex.observer = observer
        ex.taps.append(observer)


class Conclude:
    name = "conclude"

    def __init__(self, refusals: RefusalDetector, prices: PriceTable) -> None:
        self.refusals, self.prices = refusals, prices

    async def __call__(self, ex: Exchange) -> None:
        if ex.observer is None or ex.status is None or ex.status >= 300:
            return
        obs = ex.observation = ex.observer.finish()
        if obs.provider_refusal:
            ex.refusal = "provider"
        elif obs.text_start and self.refusals.is_refusal(obs.text_start):
            ex.refusal = "phrase"
        if ex.expect is not None and ex.refusal is None:
            ex.json_result = judge_json(ex.expect, obs)
        if obs.usage is not None and ex.model is not None:
            ex.cost_usd = self.prices.cost(ex.model, obs.usage)


def judge_json(expect: JsonExpectation, obs: Observation) -> str:
    """One verdict for the call: the first failing check wins; tool calls are checked when the
    model called tools, the content when JSON content was asked for."""
    if obs.tool_calls:
        for name, arguments in obs.tool_calls:
            verdict = check_tool_arguments(arguments, expect.tools.get(name), obs.truncated)
            if verdict != "valid":
                return verdict
        return "truncated" if obs.truncated else "valid"
    if expect.content:
        return check_json(obs.content or "", expect.content_schema, truncated=obs.truncated)
    return "valid"  # tools were offered, the model answered in text: nothing to validate
