"""The `/_fake/*` endpoints for tests, benchmarks and the demo (never recorded or counted).

GET    /_fake/requests  received requests, oldest first (body decoded as UTF-8 text)
DELETE /_fake/requests  forget them
GET    /_fake/stats     the counters (started, completed, cancelled, errors, resets, hung…)
DELETE /_fake/stats     zero the counters
GET    /_fake/settings  the current settings
PUT    /_fake/settings  replace the settings (full FakeSettings JSON; record_limit is kept)
"""

from __future__ import annotations

import orjson
from aiohttp import web
from pydantic import ValidationError

from proxy.fake_provider.settings import FakeSettings
from proxy.fake_provider.state import BEHAVIOURS, RECEIVED, STATS


def _json(obj: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(obj), status=status, content_type="application/json")


async def get_requests(request: web.Request) -> web.Response:
    return _json([record.to_json() for record in request.app[RECEIVED]])


async def clear_requests(request: web.Request) -> web.Response:
    received = request.app[RECEIVED]
    count = len(received)
    received.clear()
    return _json({"cleared": count})


async def get_stats(request: web.Request) -> web.Response:
    return _json(request.app[STATS].as_dict())


async def clear_stats(request: web.Request) -> web.Response:
    request.app[STATS].reset()
    return _json(request.app[STATS].as_dict())


async def get_settings(request: web.Request) -> web.Response:
    return _json(request.app[BEHAVIOURS].settings.model_dump(mode="json"))


async def put_settings(request: web.Request) -> web.Response:
    try:
        settings = FakeSettings.model_validate_json(await request.read())
    except ValidationError as exc:
        return _json({"error": exc.errors(include_url=False, include_context=False)}, 400)
    behaviours = request.app[BEHAVIOURS]
    behaviours.replace(settings)
    return _json(settings.model_dump(mode="json"))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/_fake/requests", get_requests)
    app.router.add_delete("/_fake/requests", clear_requests)
    app.router.add_get("/_fake/stats", get_stats)
    app.router.add_delete("/_fake/stats", clear_stats)
    app.router.add_get("/_fake/settings", get_settings)
    app.router.add_put("/_fake/settings", put_settings)
