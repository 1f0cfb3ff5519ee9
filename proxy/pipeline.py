"""Run one exchange through the ordered stages.

Stages before forward may answer the client themselves (set `exchange.response`); forward then
never runs. Stages after forward run once the client has its response, so they never delay it.
A stage that raises a ProxyError answers the client with it (a 404 for an unrouted model, a
413, a deny). Any other exception is a bug: recorded on the exchange and counted, and the request
goes on (fail open: a broken flag or metric must not take production traffic down with it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Protocol

from aiohttp import web

from proxy import metrics
from proxy.error_response import api_kind_of, error_response
from proxy.exchange import Exchange
from rollout.errors import ClientCancelled, ProxyError

log = logging.getLogger("llm_rollout.pipeline")


class Stage(Protocol):
    name: str

    async def __call__(self, exchange: Exchange) -> None: ...


class Pipeline:
    def __init__(self, before: Sequence[Stage], forward: Stage, after: Sequence[Stage]) -> None:
        self.before, self.forward, self.after = tuple(before), forward, tuple(after)

    async def run(self, ex: Exchange) -> web.StreamResponse:
        for stage in self.before:
            await run_guarded(stage, ex)
            if ex.response is not None:
                break
        cancelled = False
        if ex.response is None:
            try:
                await self.forward(ex)
            except asyncio.CancelledError:
                # The client went away (aiohttp cancels the handler); the upstream request was
                # closed on the way out. Still let observe/record see the exchange.
                ex.error, cancelled = ClientCancelled("client disconnected"), True
        for stage in self.after:
            await run_guarded(stage, ex)
        if cancelled:
            raise asyncio.CancelledError
        assert ex.response is not None, "forward always sets a response"
        return ex.response


async def run_guarded(stage: Stage, ex: Exchange) -> None:
    """Run one stage; a ProxyError answers the client, anything else is recorded and counted."""
    try:
        await stage(ex)
    except ProxyError as exc:  # the stage's deliberate answer (404 for a model, 413, a deny)
        ex.error = exc
        ex.response = error_response(api_kind_of(ex), exc)
    except Exception as exc:  # a stage's bug must not fail the request
        ex.stage_errors.append(f"{stage.name}: {type(exc).__name__}: {exc}")
        metrics.STAGE_ERRORS.labels(stage.name).inc()
        log.warning("stage %s failed: %s", stage.name, type(exc).__name__, exc_info=exc)
