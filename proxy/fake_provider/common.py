"""Steps every generating endpoint shares: read the body, resolve knobs, hang / delay / fail."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from proxy.fake_provider.errors import Provider, error_response
from proxy.fake_provider.knobs import KnobError, Knobs
from proxy.fake_provider.sse import hang_forever
from proxy.fake_provider.state import BEHAVIOURS, BODY_JSON, STATS


def json_body(request: web.Request, provider: Provider) -> dict[str, Any] | web.Response:
    """The request's JSON object (parsed once by the middleware), or a 400 response."""
    body = request.get(BODY_JSON)
    if not isinstance(body, dict):
        return error_response(provider, 400, "The request body must be a JSON object.")
    return body


def openai_request(request: web.Request) -> tuple[dict[str, Any], str] | web.Response:
    """An OpenAI request's JSON object and its model, or the 400 OpenAI answers without them."""
    body = json_body(request, "openai")
    if isinstance(body, web.Response):
        return body
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return error_response("openai", 400, "you must provide a model parameter")
    return body, model


async def prelude(
    request: web.Request, provider: Provider, model: object, stream: bool
) -> Knobs | web.Response:
    """Resolve the knobs, then hang, wait (latency, or ttft for a stream) or fail as they say."""
    try:
        knobs = request.app[BEHAVIOURS].resolve(model, request.headers)
    except KnobError as exc:
        return error_response(provider, 400, str(exc))
    if knobs.hang:
        request.app[STATS].hung += 1
        await hang_forever(request)
    delay = knobs.ttft if stream else knobs.latency
    if delay:
        await asyncio.sleep(delay)
    if knobs.error_status is not None:
        request.app[STATS].errors += 1
        return error_response(
            provider, knobs.error_status, f"Injected error {knobs.error_status} (fake provider)."
        )
    return knobs


def max_int(*values: object) -> int | None:
    """The first value that is a real int (not bool), for max_tokens-like fields."""
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None
