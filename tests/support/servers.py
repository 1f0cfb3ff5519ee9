"""Run aiohttp applications on loopback in a background thread, for sync and async clients alike.

Each server gets its own event loop in its own thread, so a test may drive it with the official
SDKs' blocking clients as well as their async ones without the two loops stepping on each other.
"""

from __future__ import annotations

import asyncio
import inspect
import socket
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass

from aiohttp import web


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningServer:
    host: str
    port: int
    loop: asyncio.AbstractEventLoop
    app: web.Application | web.Server

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def call(self, coro_factory: Callable[[], object], timeout: float = 10.0) -> object:
        """Run a coroutine on the server's own loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro_factory(), self.loop).result(timeout)


Served = web.Application | web.Server


@asynccontextmanager
async def on_loopback(app: Served) -> AsyncIterator[str]:
    """Serve `app` on 127.0.0.1:<free port> on the test's own event loop; yields its URL."""
    runner: web.BaseRunner
    if isinstance(app, web.Server):
        runner = web.ServerRunner(app)
    else:
        runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@contextmanager
def serve_in_thread(
    app_factory: Callable[[], Served | Awaitable[Served]],
    *,
    handler_cancellation: bool = True,
    cleanup: Callable[[], Awaitable[None]] | None = None,
) -> Iterator[RunningServer]:
    """Start what `app_factory` builds (inside the server thread, sync or async; an Application
    or a low-level Server) on 127.0.0.1:<free port>; run `cleanup` there when done."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    state: dict[str, object] = {}

    async def start() -> None:
        app = app_factory()
        if inspect.isawaitable(app):
            app = await app
        if isinstance(app, web.Server):
            runner: web.BaseRunner = web.ServerRunner(app)
        else:
            runner = web.AppRunner(app, handler_cancellation=handler_cancellation, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        state["runner"], state["app"] = runner, app
        state["port"] = runner.addresses[0][1]

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(start())
        except BaseException as exc:  # surfaced to the test thread below
            state["error"] = exc
            started.set()
            return
        started.set()
        loop.run_forever()
        loop.run_until_complete(state["runner"].cleanup())  # type: ignore[union-attr]
        if cleanup is not None:
            loop.run_until_complete(cleanup())
        loop.close()

    thread = threading.Thread(target=run, name="test-server", daemon=True)
    thread.start()
    if not started.wait(15):
        raise RuntimeError("test server did not start within 15 s")
    if "error" in state:
        raise RuntimeError("test server failed to start") from state["error"]  # type: ignore[arg-type]
    try:
        yield RunningServer("127.0.0.1", state["port"], loop, state["app"])  # type: ignore[arg-type]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(15)
