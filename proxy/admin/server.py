"""The admin port: Prometheus /metrics and health, away from the traffic port (bound to loopback
by default; bound elsewhere, /metrics needs a viewer token: proxy/admin/auth.py). With several
worker processes, /metrics answers for all of them (prometheus-client's multiprocess mode,
enabled when PROMETHEUS_MULTIPROC_DIR is set before the metrics are created).

`rollout serve` serves it with the admin API; the standalone `rollout controller` serves the
same /metrics, /healthz and /readyz with the config API (proxy/admin/controller.py)."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)

from proxy.admin.api import add_admin_api
from proxy.admin.auth import Access
from proxy.admin.config_api import add_config_api
from proxy.admin.openapi import add_openapi
from proxy.admin.shadow import add_shadow_api
from proxy.app import Proxy
from proxy.reload import LiveConfig
from proxy.scoring.rollout_scoring import RolloutScoring
from proxy.shadow.mirror import RolloutMirror

# What keeps a process from being ready ("starting", "store unreachable"), or None when it is.
NotReady = Callable[[], Awaitable[str | None]]


def build_admin_app(
    proxy: Proxy, environ: Mapping[str, str] = os.environ, live: LiveConfig | None = None
) -> web.Application:
    app = web.Application()
    access = Access.from_config(proxy.config.admin, environ)
    if proxy.runtime is not None:

        def mirrors() -> Mapping[str, RolloutMirror]:  # a reload replaces them
            return proxy.generation.mirrors

        def scorings() -> Mapping[str, RolloutScoring]:
            return proxy.generation.scorings

        add_admin_api(app, proxy.runtime, access, mirrors, scorings)
        add_shadow_api(app, proxy.runtime, mirrors, access)
    if live is not None:
        add_config_api(app, live, access)

    async def not_ready() -> str | None:
        if proxy.ready:
            return None
        return "store unreachable" if proxy.started else "starting"

    add_health_and_metrics(app, access, not_ready)
    add_openapi(app)
    return app


def add_health_and_metrics(app: web.Application, access: Access, not_ready: NotReady) -> None:
    """/metrics (a read: open on loopback, a viewer token elsewhere), /healthz (the process
    answers) and /readyz (503 with the reason while `not_ready` gives one); health is open."""
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)

    async def metrics(_: web.Request) -> web.Response:
        body = generate_latest(registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        reason = await not_ready()
        if reason is not None:
            return web.json_response({"status": reason}, status=503)
        return web.json_response({"status": "ok"})

    app.router.add_get("/metrics", access.reads(metrics))
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
