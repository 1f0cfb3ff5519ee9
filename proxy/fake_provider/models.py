"""GET /v1/models and /v1/models/{id}: OpenAI's list shape, or Anthropic's when the request
carries an `anthropic-version` header. Lists a few well-known names plus every model that has
its own behaviour in the settings."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from proxy.fake_provider.errors import error_response, json_response
from proxy.fake_provider.state import BEHAVIOURS

OPENAI_MODELS = (
    "gpt-4o",
    "gpt-4o-mini",
    "gpt-4.1",
    "gpt-4.1-mini",
    "o4-mini",
    "text-embedding-3-small",
    "text-embedding-3-large",
)
ANTHROPIC_MODELS = ("claude-opus-4-6", "claude-sonnet-4-6", "claude-haiku-4-5")
_CREATED = 1_715_000_000
_CREATED_AT = "2025-05-14T00:00:00Z"


def is_anthropic(request: web.Request) -> bool:
    return "anthropic-version" in request.headers


def _names(request: web.Request, anthropic: bool) -> list[str]:
    known = ANTHROPIC_MODELS if anthropic else OPENAI_MODELS
    names = list(known)
    for name in request.app[BEHAVIOURS].by_model:
        if name.startswith("claude") == anthropic and name not in names:
            names.append(name)
    return names


def _openai_model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": _CREATED, "owned_by": "fake-provider"}


def _anthropic_model(name: str) -> dict[str, Any]:
    display = " ".join(part.capitalize() for part in name.split("-"))
    return {"type": "model", "id": name, "display_name": display, "created_at": _CREATED_AT}


async def list_models(request: web.Request) -> web.Response:
    if is_anthropic(request):
        names = _names(request, True)
        return json_response(
            {
                "data": [_anthropic_model(n) for n in names],
                "has_more": False,
                "first_id": names[0],
                "last_id": names[-1],
            },
            "anthropic",
        )
    data = [_openai_model(n) for n in _names(request, False)]
    return json_response({"object": "list", "data": data})


async def get_model(request: web.Request) -> web.Response:
    name = request.match_info["model_id"]
    anthropic = is_anthropic(request)
    provider = "anthropic" if anthropic else "openai"
    if name not in _names(request, anthropic) and name not in request.app[BEHAVIOURS].by_model:
        return error_response(provider, 404, f"The model '{name}' does not exist.")
    if anthropic:
        return json_response(_anthropic_model(name), "anthropic")
    return json_response(_openai_model(name))
