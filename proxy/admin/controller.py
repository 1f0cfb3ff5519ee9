"""The standalone `rollout controller` process: the controller loop, its config reloads, and its
admin port.

The admin port is the config's `admin:` section (host, port, tokens), as for `rollout serve`,
and serves what a controller has: /metrics (llm_rollout_phase, llm_rollout_decisions_total, the
gate gauges, the config reload metrics), /healthz, /readyz (ready while the store answers: a
controller without its store decides nothing), and the config API (`GET /v1/config`,
`POST /v1/config/reload`). Reads are open on loopback and need a viewer token elsewhere;
a reload needs an operator (proxy/admin/auth.py). The rollouts API stays on the proxies' port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Mapping

from aiohttp import web

from proxy.admin.auth import Access
from proxy.admin.config_api import add_config_api
from proxy.admin.server import add_health_and_metrics
from proxy.config_metrics import report_loaded, report_reload
from rollout.config import Config
from rollout.config.changes import CONTROLLER_RESTART_ONLY, config_hash
from rollout.config.model import Admin
from rollout.config.reloader import ConfigReloader, ReloadResult
from rollout.config.watch import ConfigWatcher, poll_seconds
from rollout.control.controller import Controller
from rollout.errors import RolloutError
from rollout.notify.notifier import start_notifier
from rollout.store import Store
from rollout.store.from_config import open_configured_store
from rollout.tasks import cancel_and_wait, run_kept

log = logging.getLogger("llm_rollout.controller")


class ControllerConfig:
    """The controller following its config file: edited plans keep their progress, and a
    changed `store` or `admin` is refused (docs/reload.md)."""

    def __init__(self, controller: Controller, path: str, config: Config) -> None:
        self.controller = controller
        self.reloader = ConfigReloader(
            path,
            config,
            self._apply,
            restart_only=CONTROLLER_RESTART_ONLY,
            on_result=report_reload,
        )
        report_loaded(self.reloader.hash, self.reloader.loaded_at)
        self._signalled: set[asyncio.Task[ReloadResult]] = set()

    async def _apply(self, new: Config) -> None:
        self.controller.rollouts = new.rollouts
        self.controller.config_hash = config_hash(new)
        self.controller.config_time = new.file_time

    async def reload_everywhere(self, trigger: str) -> ReloadResult:
        return await self.reloader.reload(trigger)  # one process: here is everywhere

    def on_sighup(self) -> None:
        run_kept(self._signalled, self.reloader.reload("signal"))


def build_controller_admin_app(
    store: Store, live: ControllerConfig, admin: Admin, environ: Mapping[str, str] = os.environ
) -> web.Application:
    app = web.Application()
    access = Access.from_config(admin, environ)
    add_config_api(app, live, access)

    async def not_ready() -> str | None:
        return None if await store.ping() else "store unreachable"

    add_health_and_metrics(app, access, not_ready)
    return app


async def run_controller(config: Config, path: str, interval: float, admin: Admin) -> None:
    """Run until SIGINT or SIGTERM; SIGHUP and file changes reload `path`. Raises RolloutError
    when the admin port cannot be bound."""
    store = open_configured_store(config.store)
    controller = Controller(
        store, config.rollouts, bucket_seconds=config.store.window_bucket_seconds
    )
    controller.config_hash, controller.config_time = config_hash(config), config.file_time
    live = ControllerConfig(controller, path, config)
    try:
        runner = await _serve_admin(build_controller_admin_app(store, live, admin), admin)
    except RolloutError:
        await store.close()
        raise
    log.info("controller pid %d, admin port http://%s:%d", os.getpid(), admin.host, admin.port)
    watcher = ConfigWatcher(path, live.reloader.reload, poll_seconds(os.environ))
    watcher.start()
    task = asyncio.create_task(controller.run(interval))
    notify = start_notifier(store, config, lambda: controller.is_leader)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    loop.add_signal_handler(signal.SIGHUP, live.on_sighup)
    await stopping.wait()
    await watcher.stop()
    await runner.cleanup()
    await cancel_and_wait(task)
    await cancel_and_wait(notify)
    with contextlib.suppress(RolloutError):
        await controller.close()
    await store.close()


async def _serve_admin(app: web.Application, admin: Admin) -> web.AppRunner:
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, admin.host, admin.port).start()
    except OSError as exc:
        await runner.cleanup()
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise RolloutError(
            f"cannot serve the admin port {admin.host}:{admin.port}: {reason}"
        ) from exc
    return runner
