"""The config on the admin port: `GET /v1/config` (which config runs, and how the last reload
went) and `POST /v1/config/reload` (reload now; needs the admin token like every change).

A reload answers 200 with what changed (an empty list: the file says what already runs), or 422
with every problem, each as `file: key.path: message (got value)`; the old config keeps running.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from aiohttp import web

from proxy.admin_api import change_guard
from proxy.reload import LiveConfig


def add_config_api(
    app: web.Application, live: LiveConfig, token_env: str, environ: Mapping[str, str] = os.environ
) -> None:
    async def status(_: web.Request) -> web.Response:
        return web.json_response(live.reloader.status())

    async def reload(_: web.Request) -> web.Response:
        result = await live.reload_everywhere("admin")
        return web.json_response(result.to_json(), status=200 if result.ok else 422)

    app.router.add_get("/v1/config", status)
    app.router.add_post("/v1/config/reload", change_guard(token_env, environ)(reload))
