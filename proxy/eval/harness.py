"""The eval harness: the proxy's own stages for one rollout on a loopback port.

A case is sent as the SDK would send it, over HTTP to 127.0.0.1, so it crosses exactly the code
live traffic crosses — parse, the arm's rewrite (model, prompt file, parameters, provider),
the side parsers, forward with the provider's credentials and timeouts, conclude (usage, cost,
refusal, JSON validity) — and is measured the same way. Left out: identify, flags and assign
(the arm is the eval's choice, every case gets both), the store and metric windows (an eval
writes nothing a live rollout reads), and shadow mirroring.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from aiohttp import web

from proxy.cohorts.compiled import CompiledRollout, compile_rollout
from proxy.error_response import error_response, guess_api_kind
from proxy.eval.cache_stages import CacheLookup, CacheSave
from proxy.eval.stages import Collect, EvalArm
from proxy.exchange import Exchange
from proxy.pipeline import Pipeline, Stage
from proxy.routing import Router
from proxy.stages.forward import Forward
from proxy.stages.observe import Conclude, Observe
from proxy.stages.parse import Parse
from proxy.stages.rewrite import Rewrite
from proxy.upstream import Upstream
from rollout.config import Config
from rollout.config.prices import price_table
from rollout.errors import ProxyError, RouteNotFound
from rollout.eval.cache import ResponseCache
from rollout.eval.target import find_rollout
from rollout.quality.refusal import shared_detector


class EvalHarness:
    def __init__(
        self,
        config: Config,
        rollout: str,
        cache: ResponseCache | None = None,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self.config = config
        self.upstreams = {n: Upstream(n, p, environ) for n, p in config.providers.items()}
        self.rollout: CompiledRollout = compile_rollout(
            find_rollout(config, rollout), self.upstreams
        )
        self.router = Router(config.routes, self.upstreams)
        self.collect = Collect()
        self.pipeline = self._pipeline(cache)
        self._runner: web.ServerRunner | None = None
        self.url = ""

    def _pipeline(self, cache: ResponseCache | None) -> Pipeline:
        config, limit = self.config, self.config.limits.max_body_bytes
        phrases = config.observe.refusal_phrases
        refusals = self.refusals = shared_detector(tuple(phrases) if phrases is not None else None)
        observe = Observe({name: p.stream_usage for name, p in config.providers.items()})
        before: list[Stage] = [Parse(limit), EvalArm(self.rollout), Rewrite(), observe]
        after: list[Stage] = [Conclude(refusals, price_table(config))]
        if cache is not None:
            before.append(CacheLookup(cache))
            after.append(CacheSave(cache))
        return Pipeline(before, Forward(limit), [*after, self.collect])

    async def start(self) -> str:
        """Start the upstream sessions and the loopback server; returns its base URL."""
        for upstream in self.upstreams.values():
            await upstream.start()
        server = web.Server(self._handle, handler_cancellation=True, access_log=None)
        self._runner = web.ServerRunner(server, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self.url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        for upstream in self.upstreams.values():
            await upstream.close()

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        try:
            candidates = self.router.candidates(request.raw_path, request.path)
            if not candidates:
                raise RouteNotFound(f"no route for {request.path}")
            return await self.pipeline.run(Exchange(request, candidates))
        except ProxyError as exc:
            return error_response(guess_api_kind(request), exc)
