"""Observe + Conclude on a small exchange: refusal source, JSON verdict, cost."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import make_mocked_request

from proxy.exchange import Exchange
from proxy.observe.openai_chat import OpenAIChatObserver
from proxy.stages.observe import Conclude, Observe
from rollout.quality.pricing import default_price_table
from rollout.quality.refusal import RefusalDetector

FIXTURES = Path(__file__).parent / "fixtures"


async def _conclude(fixture: str, model: str, payload: dict | None = None) -> Exchange:
    ex = Exchange(request=make_mocked_request("POST", "/v1/chat/completions"), candidates=[])
    ex.api, ex.model = "openai.chat", model
    ex.payload = payload or {"model": model, "messages": []}
    ex.stream = fixture.endswith(".sse")
    await Observe(inject_stream_usage={})(ex)  # no upstream: no usage injection
    assert isinstance(ex.observer, OpenAIChatObserver) and ex.taps == [ex.observer]
    ex.status = 200
    for tap in ex.taps:
        tap.start(200, None)
        tap.feed((FIXTURES / fixture).read_bytes())
    await Conclude(RefusalDetector(), default_price_table())(ex)
    return ex


@pytest.mark.parametrize(
    ("fixture", "refusal"),
    [
        ("chat.json", None),
        ("chat_refuse.json", "phrase"),
        ("chat_refuse_schema_stream.sse", "provider"),
        ("chat_content_filter.json", "provider"),
    ],
)
async def test_refusal_source(fixture: str, refusal: str | None) -> None:
    assert (await _conclude(fixture, "gpt-4o-mini")).refusal == refusal


async def test_cost_from_default_price_table() -> None:
    ex = await _conclude("chat_content_filter_stream.sse", "gpt-4o-mini")
    # 4 input at 0.15/M, 8 cached at 0.075/M, 2 output at 0.60/M
    assert ex.cost_usd == pytest.approx((4 * 0.15 + 8 * 0.075 + 2 * 0.60) / 1e6)


async def test_cost_unknown_model_is_none() -> None:
    ex = await _conclude("chat.json", "no-such-model-xyz")
    assert ex.observation is not None and ex.observation.usage is not None
    assert ex.cost_usd is None


async def test_json_verdict_and_refusal_skips_it() -> None:
    payload = {"model": "gpt-4o-mini", "response_format": {"type": "json_object"}}
    assert (await _conclude("chat_json_mode.json", "gpt-4o-mini", dict(payload))).json_result == (
        "valid"
    )
    invalid = await _conclude("chat_json_invalid.json", "gpt-4o-mini", dict(payload))
    assert invalid.json_result == "invalid_json"
    refused = await _conclude("chat_refuse.json", "gpt-4o-mini", dict(payload))
    assert (refused.refusal, refused.json_result) == ("phrase", None)


async def test_error_status_concludes_nothing() -> None:
    ex = Exchange(request=make_mocked_request("POST", "/v1/chat/completions"), candidates=[])
    ex.observer, ex.status = OpenAIChatObserver(False, False), 500
    await Conclude(RefusalDetector(), default_price_table())(ex)
    assert ex.observation is None and ex.cost_usd is None
