"""The config on the admin port: `GET /v1/config` (which config runs, and how the last reload
went) and `POST /v1/config/reload` (reload now; needs the admin token like every change).

A reload answers 200 with what changed (an empty list: the file says what already runs), or 422
with every problem, each as `file: key.path: message (got value)`; the old config keeps running.
Reading needs what every read needs, reloading an operator (proxy/admin/auth.py).
"""

from __future__ import annotations

from typing import Protocol

from aiohttp import web

from proxy.admin.auth import Access, Role
from rollout.config.reloader import ConfigReloader, ReloadResult


class Reloadable(Protocol):
    """A process following its config file: the proxy's LiveConfig, the controller's own."""

    reloader: ConfigReloader

    async def reload_everywhere(self, trigger: str) -> ReloadResult: ...


def add_config_api(app: web.Application, live: Reloadable, access: Access) -> None:
    async def status(_: web.Request) -> web.Response:
        return web.json_response(live.reloader.status())

    async def reload(_: web.Request) -> web.Response:
        result = await live.reload_everywhere("admin")
        return web.json_response(result.to_json(), status=200 if result.ok else 422)

    app.router.add_get("/v1/config", access.reads(status))
    app.router.add_post("/v1/config/reload", access.needs(Role.operator)(reload))
