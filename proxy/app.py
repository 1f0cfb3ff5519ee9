"""The proxy server: health endpoints, the front-door checks, and the pipeline for the rest.

Built on aiohttp's low-level server (no router, no middlewares): the proxy routes by itself and
every microsecond on this path is paid on every LLM call.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Mapping, Sequence

from aiohttp import web

from proxy import metrics
from proxy.cohorts.compiled import CompiledRollout, compile_rollout
from proxy.cohorts.runtime import Runtime
from proxy.error_response import error_response, guess_api_kind
from proxy.exchange import Exchange
from proxy.expect_continue import expects_continue, refuse_unread_body, send_continue
from proxy.generation import Generation
from proxy.metrics import ArmMetricsCache
from proxy.pipeline import Pipeline, Stage
from proxy.routing import Router
from proxy.scoring.build import ScoringRates, build_scorings
from proxy.scoring.metrics import BUDGET_PAUSED as SCORING_PAUSED
from proxy.scoring.metrics import QUEUE_METRICS as SCORING_QUEUE
from proxy.scoring.rollout_scoring import RolloutScoring
from proxy.shadow.budget_sync import SCORING_COST, BudgetSync
from proxy.shadow.mirror import RolloutMirror
from proxy.shadow.pair import ShadowStages
from proxy.shadow.resources import ShadowResources
from proxy.stages.assign import Assign
from proxy.stages.flags import FlagEdits, Flags
from proxy.stages.forward import Forward
from proxy.stages.identify import Identify
from proxy.stages.mirror import Mirror
from proxy.stages.observe import Conclude, Observe
from proxy.stages.parse import Parse
from proxy.stages.record import Record
from proxy.stages.rewrite import Rewrite
from proxy.stages.score import Score
from proxy.stages.score_sample import ScoreSample
from proxy.stages.shadow_sample import ShadowSample
from proxy.subject_flusher import SubjectFlusher
from proxy.upstream import Upstream
from proxy.window_flusher import WindowFlusher
from rollout.config import Config
from rollout.config.changes import config_hash
from rollout.config.prices import price_table
from rollout.control.controller import Controller
from rollout.control.subject_counts import SubjectAggregator
from rollout.control.windows import WindowAggregator
from rollout.errors import ProxyError, RequestTooLarge, RouteNotFound, StoreError
from rollout.notify.notifier import start_notifier
from rollout.quality.refusal import shared_detector
from rollout.store.from_config import open_configured_store
from rollout.targeting.flags import FlagSet
from rollout.tasks import cancel_and_wait

_HEALTH_PATHS = ("/healthz", "/readyz")


def build_pipeline(
    config: Config,
    upstreams: Mapping[str, Upstream],
    rollouts: Sequence[CompiledRollout] = (),
    runtime: Runtime | None = None,
    windows: WindowAggregator | None = None,
    mirrors: Mapping[str, RolloutMirror] | None = None,
    subjects: SubjectAggregator | None = None,
    scorings: Mapping[str, RolloutScoring] | None = None,
) -> Pipeline:
    """parse -> identify -> flags -> assign -> shadow sample -> score sample -> rewrite -> flag
    edits -> observe -> forward -> conclude -> record -> mirror -> score. Stages with nothing to
    do under this config are left out."""
    limit = config.limits.max_body_bytes
    prices = price_table(config)
    phrases = config.observe.refusal_phrases
    refusals = shared_detector(tuple(phrases) if phrases is not None else None)
    observe = Observe({name: p.stream_usage for name, p in config.providers.items()})
    after: list[Stage] = [Conclude(refusals, prices), Record(ArmMetricsCache(), windows, subjects)]
    # Who is asking matters only to rollouts and flags: without them, no subject is looked for
    # (a fingerprint of the API key would be hashed on every request for nothing).
    rollout_stages: list[Stage] = []
    variant_stages: list[Stage] = []
    if runtime is not None:
        rollout_stages.append(Identify(rollouts))
        if config.flags:
            rollout_stages.append(Flags(runtime.flags, upstreams))
        if rollouts:
            rollout_stages.append(Assign(runtime))
            variant_stages.append(Rewrite())
        if config.flags:
            variant_stages.append(FlagEdits(upstreams))
        if mirrors:
            rollout_stages.append(ShadowSample(mirrors, runtime))
            # A shadow exchange goes through the same stages as a live one, around its own send.
            after.append(Mirror(mirrors, ShadowStages([*variant_stages, observe], list(after))))
        if scorings:
            rollout_stages.append(ScoreSample(scorings, runtime))
            after.append(Score())  # last: the shadow exchanges' stages (above) need not run it
    return Pipeline(
        before=[Parse(limit), *rollout_stages, *variant_stages, observe],
        forward=Forward(limit),
        after=after,
    )


class Proxy:
    def __init__(self, config: Config, environ: Mapping[str, str] = os.environ) -> None:
        self.environ = environ
        self.upstreams = {n: Upstream(n, p, environ) for n, p in config.providers.items()}
        rollouts = [compile_rollout(r, self.upstreams) for r in config.rollouts]
        self.runtime: Runtime | None = None
        self.flusher: WindowFlusher | None = None
        self.windows: WindowAggregator | None = None
        self.subjects: SubjectAggregator | None = None
        self.subject_flusher: SubjectFlusher | None = None
        if config.rollouts or config.flags:
            store = open_configured_store(config.store, environ)
            self.runtime = Runtime(rollouts, FlagSet(config.flags), store)
            # Per-arm counts and latency histograms for the controller, one flush a second
            # (with flags only, too: a reload may add a rollout).
            self.windows = WindowAggregator(config.store.window_bucket_seconds)
            self.flusher = WindowFlusher(store.metrics, self.windows)
            # Distinct candidate subjects, in the windows' buckets, for min_subjects.
            self.subjects = SubjectAggregator(self.windows.bucket_seconds)
            self.subject_flusher = SubjectFlusher(store.documents, store.subjects, self.subjects)
        self.shadow = ShadowResources()  # shadow queues and budgets outlive reloads
        # Online scoring's queues and budgets too: counted apart, on the same CPU reading.
        self.scoring = ShadowResources(SCORING_QUEUE, SCORING_PAUSED, self.shadow.headroom)
        self.scoring_rates = ScoringRates()
        self.budget_syncs: list[BudgetSync] = []
        if self.runtime is not None:  # budgets summed over every process, via the store
            runtime = self.runtime
            self.budget_syncs = [
                BudgetSync(self.shadow.budgets, runtime.store.metrics, runtime.guard),
                BudgetSync(
                    self.scoring.budgets, runtime.store.metrics, runtime.guard, suffix=SCORING_COST
                ),
            ]
        self.generation = self.build_generation(config, self.upstreams, rollouts)
        # Rollouts with an automatic plan are ramped by a controller in this process; with
        # several replicas on Redis, the leader lock lets one of them act.
        self.controller: Controller | None = None
        self._controller_task: asyncio.Task[None] | None = None
        self._notify_task: asyncio.Task[None] | None = None
        self.started = False

    def build_generation(
        self,
        config: Config,
        upstreams: Mapping[str, Upstream],
        rollouts: Sequence[CompiledRollout],
    ) -> Generation:
        """What requests read of `config` (proxy/generation.py); at start and on every reload."""
        mirrors: dict[str, RolloutMirror] = {}
        runtime = self.runtime
        if runtime is not None:
            for r in rollouts:
                if r.config.shadow is not None:
                    mirrors[r.name] = RolloutMirror(
                        r, r.config.shadow, runtime.store, runtime.guard, self.windows, self.shadow
                    )
        scorings: dict[str, RolloutScoring] = {}
        if runtime is not None:
            scorings = build_scorings(
                config, upstreams, rollouts, self.scoring, self.scoring_rates, self.windows
            )
            for name, mirror in mirrors.items():  # shadow pairs are scored from the shadow job
                mirror.scoring = scorings.get(name)
        pipeline = build_pipeline(
            config, upstreams, rollouts, runtime, self.windows, mirrors, self.subjects, scorings
        )
        router = Router(config.routes, upstreams)
        return Generation(config, router, tuple(rollouts), pipeline, mirrors, scorings)

    @property
    def config(self) -> Config:
        return self.generation.config

    def follow_plans(self) -> None:
        """Start the controller when an automatic rollout exists, or hand it the rollouts of a
        reloaded config (it uses them from its next step)."""
        rollouts = self.config.rollouts
        automatic = any(r.plan.automatic for r in rollouts)
        if self.controller is None and self.runtime is not None and automatic:
            self.controller = Controller(
                self.runtime.store,
                rollouts,
                bucket_seconds=self.config.store.window_bucket_seconds,
            )
            self._controller_task = asyncio.create_task(self.controller.run(1.0))
            controller = self.controller
            self._notify_task = start_notifier(
                self.runtime.store, self.config, lambda: controller.is_leader
            )
        if self.controller is not None:
            self.controller.rollouts = rollouts
            self.controller.config_hash = config_hash(self.config)
            self.controller.config_time = self.config.file_time

    @property
    def ready(self) -> bool:
        """Serving; with `store.require`, also only while the store answers."""
        if not self.started:
            return False
        runtime = self.runtime
        return not (runtime and self.config.store.require and not runtime.guard.up)

    async def start(self) -> None:
        for upstream in self.upstreams.values():
            await upstream.start()
        if self.runtime is not None:
            await self.runtime.start()
        if self.flusher is not None:
            self.flusher.start()
        if self.subject_flusher is not None:
            self.subject_flusher.start()
        for sync in self.budget_syncs:
            sync.start()
        self.follow_plans()
        self.started = True

    async def close(self) -> None:
        self.started = False
        await cancel_and_wait(self._notify_task)
        if self._controller_task is not None:
            await cancel_and_wait(self._controller_task)
            with contextlib.suppress(StoreError):  # the lock then expires by itself
                await self.controller.close()  # type: ignore[union-attr]
        for sync in self.budget_syncs:
            await sync.stop()
        await self.shadow.close()  # before the upstream sessions the shadow calls use
        await self.scoring.close()  # ... and the judges' calls
        if self.flusher is not None:
            await self.flusher.stop()
        if self.subject_flusher is not None:
            await self.subject_flusher.stop()
        if self.runtime is not None:
            await self.runtime.stop()
            await self.runtime.store.close()
        for upstream in self.upstreams.values():
            await upstream.close()

    def server(self) -> web.Server:
        # handler_cancellation: a client that disconnects cancels its upstream call at once.
        # auto_decompress off: a compressed upload is forwarded as it came, never re-encoded.
        return web.Server(
            self.handle, handler_cancellation=True, auto_decompress=False, access_log=None
        )

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        try:
            return await self._handle(request)
        except ProxyError as exc:
            metrics.REJECTED.labels(exc.kind).inc()
            response = error_response(guess_api_kind(request), exc)
            refuse_unread_body(request, response)
            return response

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        # Absolute-form ("GET http://host/...") and authority-form (CONNECT) targets: refused.
        if not request.raw_path.startswith("/"):
            raise RouteNotFound("absolute-form request targets are not served: not a proxy")
        if request.path in _HEALTH_PATHS and request.method in ("GET", "HEAD"):
            return self._health(request.path)
        generation = self.generation  # this request runs on it to its end, whatever reloads
        candidates = generation.router.candidates(request.raw_path, request.path)
        if not candidates:
            raise RouteNotFound(f"no route for {request.path}")
        length, limit = request.content_length, generation.max_body_bytes
        if length is not None and length > limit:
            raise RequestTooLarge(f"request body exceeds the limit of {limit} bytes")
        if expects_continue(request):
            await send_continue(request)  # only now may the client send its body
        return await generation.pipeline.run(Exchange(request, candidates))

    def _health(self, path: str) -> web.Response:
        if path == "/readyz" and not self.ready:
            return web.json_response({"status": "starting"}, status=503)
        return web.json_response({"status": "ok"})
