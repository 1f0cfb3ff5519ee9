"""The aiohttp application: routes, the recording/auth/counting middleware, and `run`."""

from __future__ import annotations

import asyncio
import collections
import multiprocessing
import signal
import sys
from typing import Any

import orjson
from aiohttp import web

from proxy.fake_provider import control
from proxy.fake_provider.anthropic_api import messages
from proxy.fake_provider.errors import Provider, error_response
from proxy.fake_provider.judge import SEEN as JUDGE_SEEN
from proxy.fake_provider.knobs import Behaviours
from proxy.fake_provider.models import get_model, list_models
from proxy.fake_provider.openai_chat import chat_completions, completions
from proxy.fake_provider.openai_embeddings import embeddings
from proxy.fake_provider.openai_responses import responses
from proxy.fake_provider.settings import FakeSettings
from proxy.fake_provider.sse import ClientGone
from proxy.fake_provider.state import (
    BEHAVIOURS,
    BODY_BYTES,
    BODY_JSON,
    OUTCOME,
    RECEIVED,
    STATS,
    FakeStats,
    ReceivedRequest,
)

MAX_BODY = 64 * 1024 * 1024


def provider_of(request: web.Request) -> Provider:
    """Whose error shape and auth header apply: Anthropic for /v1/messages or when the request
    carries `anthropic-version`, OpenAI otherwise."""
    path = request.path
    if path.startswith("/v1/messages"):
        return "anthropic"
    if path.startswith(("/v1/chat/", "/v1/completions", "/v1/responses", "/v1/embeddings")):
        return "openai"
    return "anthropic" if "anthropic-version" in request.headers else "openai"


def _authorized(request: web.Request, provider: Provider, key: str) -> bool:
    """OpenAI: `Authorization: Bearer <key>`. Anthropic: `x-api-key: <key>`, or the bearer form
    that recent anthropic SDKs send."""
    if request.headers.get("Authorization") == "Bearer " + key:
        return True
    return provider == "anthropic" and request.headers.get("x-api-key") == key


@web.middleware
async def fake_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.path.startswith("/_fake/"):
        return await handler(request)
    app = request.app
    body = await request.read() if request.body_exists else b""
    parsed: Any = None
    if body:
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            parsed = None
    request[BODY_BYTES] = body
    request[BODY_JSON] = parsed
    received = app[RECEIVED]
    if received.maxlen:
        received.append(
            ReceivedRequest(
                method=request.method,
                path=request.path,
                query=dict(request.query),
                headers={k.lower(): v for k, v in request.headers.items()},
                body=body,
                json=parsed,
            )
        )
    stats = app[STATS]
    stats.started += 1
    provider = provider_of(request)
    key = app[BEHAVIOURS].settings.require_api_key
    if key is not None and not _authorized(request, provider, key):
        stats.completed += 1
        return error_response(provider, 401, "Missing or invalid API key.")
    try:
        resp = await handler(request)
    except asyncio.CancelledError:
        stats.cancelled += 1
        raise
    except ClientGone:
        stats.cancelled += 1
        return web.Response(status=499)  # nobody is left to read it
    except web.HTTPException as exc:  # no such route / method
        stats.completed += 1
        message = f"Invalid URL ({request.method} {request.path})"
        return error_response(provider, exc.status if exc.status >= 400 else 404, message)
    outcome = request.get(OUTCOME)
    if outcome is None:
        stats.completed += 1
    elif outcome == "cancelled":
        stats.cancelled += 1
    return resp


def build_app(settings: FakeSettings | None = None) -> web.Application:
    settings = settings if settings is not None else FakeSettings()
    app = web.Application(middlewares=[fake_middleware], client_max_size=MAX_BODY)
    app[BEHAVIOURS] = Behaviours(settings)
    app[RECEIVED] = collections.deque(maxlen=settings.record_limit)
    app[STATS] = FakeStats()
    app[JUDGE_SEEN] = set()  # judge mode's malformed-once requests already answered
    router = app.router
    router.add_post("/v1/chat/completions", chat_completions)
    router.add_post("/v1/completions", completions)
    router.add_post("/v1/responses", responses)
    router.add_post("/v1/embeddings", embeddings)
    router.add_get("/v1/models", list_models)
    router.add_get("/v1/models/{model_id}", get_model)
    router.add_post("/v1/messages", messages)
    control.add_routes(app)
    return app


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _serve(host: str, port: int, settings: FakeSettings | None, reuse_port: bool, say: bool):
    web.run_app(
        build_app(settings),
        host=host,
        port=port,
        access_log=None,
        handler_cancellation=True,
        reuse_port=reuse_port or None,
        print=print if say else None,  # type: ignore[arg-type]
        loop=_new_loop(),
    )


def run(
    host: str = "127.0.0.1",
    port: int = 8081,
    settings: FakeSettings | None = None,
    workers: int = 1,
) -> None:
    """Serve until interrupted. With workers > 1, that many processes share the port
    (SO_REUSEPORT); each keeps its own recorded requests and counters."""
    if workers <= 1:
        _serve(host, port, settings, False, True)
        return
    # fork: the caller (the CLI) is single-threaded and has no event loop yet; spawn elsewhere.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    ctx = multiprocessing.get_context(method)
    procs = [
        ctx.Process(target=_serve, args=(host, port, settings, True, i == 0), daemon=True)
        for i in range(workers)
    ]

    def _stop(signum: int, frame: object) -> None:
        raise SystemExit(0)

    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        started = [proc for proc in procs if proc.pid is not None]
        for proc in started:
            if proc.is_alive():
                proc.terminate()
        for proc in started:
            proc.join(5)
    if any(proc.exitcode not in (0, None, -signal.SIGTERM) for proc in procs):
        sys.exit(1)
