"""Errors answered by the proxy itself, in the shape the client's SDK understands."""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson
from aiohttp import web

from rollout.errors import ProxyError

if TYPE_CHECKING:
    from proxy.exchange import Exchange

# OpenAI's SDK reads error.message / error.type / error.code; Anthropic's reads error.type.
_OPENAI_TYPES = {404: "invalid_request_error", 413: "invalid_request_error"}


def error_body(api_kind: str, error: ProxyError) -> bytes:
    if api_kind == "anthropic":
        doc = {"type": "error", "error": {"type": error.error_type, "message": error.message}}
    else:
        doc = {
            "error": {
                "message": error.message,
                "type": _OPENAI_TYPES.get(error.status, error.error_type),
                "param": None,
                "code": error.kind,
            }
        }
    return orjson.dumps(doc)


def error_response(api_kind: str, error: ProxyError) -> web.Response:
    return web.Response(
        status=error.status,
        body=error_body(api_kind, error),
        content_type="application/json",
        headers={"x-llm-rollout-error": error.kind},
    )


def sse_error_event(api_kind: str, error: ProxyError) -> bytes:
    """The event that ends a stream cut short upstream, so the SDK raises instead of hanging or
    returning a silently truncated answer."""
    body = error_body(api_kind, error)
    if api_kind == "anthropic":
        return b"event: error\ndata: " + body + b"\n\n"
    return b"data: " + body + b"\n\n"


def api_kind_of(ex: Exchange) -> str:
    return ex.upstream.kind if ex.upstream is not None else guess_api_kind(ex.request)


def guess_api_kind(request: web.BaseRequest) -> str:
    """For answers given before any route is known: Anthropic clients send anthropic-version."""
    if "anthropic-version" in request.headers or request.path.endswith("/messages"):
        return "anthropic"
    return "openai"
