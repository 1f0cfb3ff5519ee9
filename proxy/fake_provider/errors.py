"""JSON responses and each provider's error shape.

OpenAI:    {"error": {"message": ..., "type": ..., "param": null, "code": ...}}
Anthropic: {"type": "error", "error": {"type": ..., "message": ...}, "request_id": ...}
"""

from __future__ import annotations

import os
from typing import Any, Literal

import orjson
from aiohttp import web

Provider = Literal["openai", "anthropic"]

_OPENAI: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "The request is invalid."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("invalid_request_error", "permission_denied", "You are not allowed to do this."),
    404: ("invalid_request_error", None, "The requested resource does not exist."),
    408: ("server_error", "timeout", "The request timed out."),
    409: ("invalid_request_error", "conflict", "The request conflicts with the current state."),
    422: ("invalid_request_error", None, "The request could not be processed."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests."),
    500: ("server_error", None, "The server had an error while processing your request."),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
    504: ("server_error", "timeout", "The upstream timed out."),
}

_ANTHROPIC: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "The request is invalid."),
    401: ("authentication_error", "invalid x-api-key"),
    402: ("billing_error", "Your credit balance is too low."),
    403: ("permission_error", "Your API key does not have permission to use this resource."),
    404: ("not_found_error", "The requested resource could not be found."),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "Number of requests has exceeded your rate limit."),
    500: ("api_error", "Internal server error"),
    504: ("timeout_error", "The request timed out."),
    529: ("overloaded_error", "Overloaded"),
}

JSON_CT = "application/json"


def request_id() -> str:
    return "req_" + os.urandom(12).hex()


def json_response(
    obj: Any, provider: Provider = "openai", status: int = 200, **headers: str
) -> web.Response:
    rid = request_id()
    hdrs = {"Content-Type": JSON_CT, "x-request-id" if provider == "openai" else "request-id": rid}
    if headers:
        hdrs.update(headers)
    return web.Response(body=orjson.dumps(obj), status=status, headers=hdrs)


def openai_error_body(status: int, message: str | None = None, param: str | None = None) -> dict:
    kind, code, default = _OPENAI.get(
        status,
        ("server_error", None, "Server error.")
        if status >= 500
        else ("invalid_request_error", None, "Request failed."),
    )
    return {"error": {"message": message or default, "type": kind, "param": param, "code": code}}


def anthropic_error_body(status: int, message: str | None = None) -> dict:
    kind, default = _ANTHROPIC.get(
        status,
        ("api_error", "Internal server error")
        if status >= 500
        else ("invalid_request_error", "Request failed."),
    )
    return {"type": "error", "error": {"type": kind, "message": message or default}}


def error_response(provider: Provider, status: int, message: str | None = None) -> web.Response:
    if provider == "anthropic":
        body = anthropic_error_body(status, message)
        rid = request_id()
        body["request_id"] = rid
        return web.Response(
            body=orjson.dumps(body),
            status=status,
            headers={"Content-Type": JSON_CT, "request-id": rid},
        )
    return json_response(openai_error_body(status, message), "openai", status)
