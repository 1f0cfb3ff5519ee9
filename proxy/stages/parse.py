"""Recognise the LLM API a request speaks, parse its JSON body once, and settle the route.

Non-JSON or truncated bodies are forwarded untouched and counted: the proxy is never stricter
than the provider, which will give the client its own, authoritative error.
"""

from __future__ import annotations

import orjson
from aiohttp import web

from proxy import metrics
from proxy.exchange import Exchange
from proxy.routing import Router
from rollout.errors import RequestTooLarge, RouteNotFound

# Path endings of the APIs whose bodies the proxy understands (POST only); longest match first.
_API_BY_SUFFIX = (
    ("/chat/completions", "openai.chat"),
    ("/completions", "openai.completions"),
    ("/responses", "openai.responses"),
    ("/embeddings", "openai.embeddings"),
    ("/messages", "anthropic.messages"),
)


def detect_api(method: str, path: str) -> str | None:
    if method != "POST":
        return None
    for suffix, api in _API_BY_SUFFIX:
        if path.endswith(suffix):
            return api
    return None


class Parse:
    name = "parse"

    def __init__(self, max_body_bytes: int) -> None:
        self.max_body_bytes = max_body_bytes

    async def __call__(self, ex: Exchange) -> None:
        request = ex.request
        ex.api = detect_api(request.method, request.path)
        if ex.api is not None:
            ex.body = await read_body(request, self.max_body_bytes)
            self._parse_json(ex)
        self._settle_route(ex)

    @staticmethod
    def _parse_json(ex: Exchange) -> None:
        if "content-encoding" in ex.request.headers:
            ex.notes.add("encoded_body")  # compressed upload: opaque to us, forwarded as is
            metrics.MALFORMED.labels("encoded_body").inc()
            return
        try:
            payload = orjson.loads(ex.body)  # type: ignore[arg-type]
        except orjson.JSONDecodeError:
            ex.notes.add("malformed_json")
            metrics.MALFORMED.labels("malformed_json").inc()
            return
        if not isinstance(payload, dict):
            ex.notes.add("not_an_object")
            metrics.MALFORMED.labels("not_an_object").inc()
            return
        ex.payload = payload
        model = payload.get("model")
        ex.model = model if isinstance(model, str) else None
        ex.stream = payload.get("stream") is True

    @staticmethod
    def _settle_route(ex: Exchange) -> None:
        route = Router.choose(ex.candidates, ex.model)
        if route is None:
            raise RouteNotFound(f"no route for model {ex.model!r} under {ex.request.path}")
        ex.route, ex.upstream, ex.fallbacks = route, route.upstream, route.fallbacks


async def read_body(request: web.BaseRequest, limit: int) -> bytes:
    """The whole body, refusing to hold more than `limit` bytes in memory."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.readany():
        size += len(chunk)
        if size > limit:
            raise RequestTooLarge(f"request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
