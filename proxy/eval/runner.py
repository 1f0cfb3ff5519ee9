"""Send every case of a dataset to both arms of a rollout through the eval harness.

Bounded concurrency (a fixed pool of workers pulling jobs, so memory does not grow with the
dataset); each case's arms and repeats are queued side by side, so a slow spell of the provider
hits both arms alike. A 429 or 5xx is retried with exponential backoff, honouring
`retry-after`; the last attempt is what counts. The run stops early — and says why, so the
verdict is "could not tell" — when new spend reaches `max_cost`, or when an arm's provider
cannot be reached at all.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import aiohttp
import orjson

from proxy.eval.harness import EvalHarness
from proxy.eval.judge_client import JudgeClient
from proxy.eval.stages import ARM_HEADER, ARMS, CALL_HEADER, REPEAT_HEADER
from proxy.exchange import Exchange
from proxy.stages.record import error_kind
from rollout.config import Config
from rollout.config.prices import price_table
from rollout.errors import EvalError
from rollout.eval.answer import Answer
from rollout.eval.cache import ResponseCache
from rollout.eval.dataset import Case, Dataset
from rollout.eval.expect import check_case
from rollout.eval.result import Call, EvalRun
from rollout.eval.target import case_path, find_rollout
from rollout.scorers.apply import score_calls
from rollout.scorers.base import Complete, Scorer

UNREACHABLE = frozenset({"connect_error", "connect_timeout"})
UNREACHABLE_AFTER = 5  # calls of an arm, all unreachable, none answered: stop the run
RETRY_AFTER_CAP = 30.0  # seconds: a provider asking for longer is treated as down
Progress = Callable[[int, int, float], None]  # (calls done, calls in all, USD spent)
# The configured scorers, given how a judge reaches its provider (rollout/scorers/build.py).
ScorerFactory = Callable[[Complete], Mapping[str, Scorer]]


@dataclass(frozen=True, slots=True)
class Settings:
    concurrency: int = 8
    repeat: int = 1
    max_cost: float | None = None
    retries: int = 3
    backoff: float = 0.5  # seconds before the first retry; doubled each time


async def run_eval(
    config: Config,
    rollout: str,
    dataset: Dataset,
    settings: Settings,
    cache: ResponseCache | None = None,
    progress: Progress | None = None,
    scorers: ScorerFactory | None = None,
) -> EvalRun:
    target = find_rollout(config, rollout)
    paths = {api: case_path(config, target, api) for api in _apis(dataset)}
    run = EvalRun(
        rollout=rollout,
        version=target.version,
        dataset=str(dataset.path),
        dataset_digest=dataset.digest,
        cases=len(dataset.cases),
        repeat=settings.repeat,
    )
    harness = EvalHarness(config, rollout, cache)
    started = time.monotonic()
    await harness.start()
    try:
        async with aiohttp.ClientSession(harness.url) as session:
            sender = _Sender(harness, session, paths, settings, run, progress)
            await sender.send_all(dataset)
        if scorers is not None:
            await _score(harness, config, dataset, settings, run, sender, scorers)
    finally:
        await harness.close()
    run.seconds = time.monotonic() - started
    run.cache_hits = sum(c.cached for c in run.calls)
    return run


async def _score(
    harness: EvalHarness,
    config: Config,
    dataset: Dataset,
    settings: Settings,
    run: EvalRun,
    sender: _Sender,
    factory: ScorerFactory,
) -> None:
    """Every answer through the configured scorers, once both arms have answered; the judges
    call their providers through the harness's upstreams, and their spend counts toward the
    cost cap."""
    client = JudgeClient(
        harness.upstreams, price_table(config), harness.refusals, on_spend=sender.spend
    )
    scorers = factory(client.complete)
    try:
        run.calls = await score_calls(
            run.calls,
            dataset.cases,
            scorers,
            settings.concurrency,
            stopped=lambda: run.stopped is not None,
        )
    finally:
        for scorer in scorers.values():
            await scorer.close()


def _apis(dataset: Dataset) -> set[str]:
    return {case.api for case in dataset.cases}


class _Sender:
    def __init__(
        self,
        harness: EvalHarness,
        session: aiohttp.ClientSession,
        paths: dict[str, str],
        settings: Settings,
        run: EvalRun,
        progress: Progress | None,
    ) -> None:
        self.harness, self.session, self.paths = harness, session, paths
        self.settings, self.run, self.progress = settings, run, progress
        self.total = 0
        self.unanswered = dict.fromkeys(ARMS, 0)  # calls that could not reach the provider
        self.answered = dict.fromkeys(ARMS, 0)

    async def send_all(self, dataset: Dataset) -> None:
        repeats = range(self.settings.repeat)
        jobs = [(case, arm, r) for case in dataset.cases for r in repeats for arm in ARMS]
        self.total = len(jobs)
        queue = iter(jobs)
        workers = min(self.settings.concurrency, len(jobs)) or 1
        await asyncio.gather(*(self._worker(queue) for _ in range(workers)))
        self.run.calls.sort(key=lambda c: (c.case, c.repeat, c.arm))

    async def _worker(self, jobs: Iterator[tuple[Case, str, int]]) -> None:
        for case, arm, repeat in jobs:
            if self.run.stopped is not None:
                return
            call = await self._call(case, arm, repeat)
            self._account(call)
            if self.progress is not None:
                self.progress(len(self.run.calls), self.total, self.run.spent_usd)

    def spend(self, usd: float) -> None:
        """New spend (an arm's call or a judge's); the cost cap stops the run."""
        run = self.run
        run.spent_usd += usd
        limit = self.settings.max_cost
        if limit is not None and run.spent_usd >= limit and run.stopped is None:
            run.stopped = f"cost cap reached: ${run.spent_usd:.4f} spent of --max-cost ${limit:g}"

    def _account(self, call: Call) -> None:
        run = self.run
        run.calls.append(call)
        self.spend(call.cost_usd if not call.cached and call.cost_usd is not None else 0.0)
        if call.answer.error in UNREACHABLE:
            self.unanswered[call.arm] += 1
        elif call.status is not None:
            self.answered[call.arm] += 1
        if self.unanswered[call.arm] >= UNREACHABLE_AFTER and not self.answered[call.arm]:
            run.stopped = run.stopped or (
                f"the {call.arm}'s provider cannot be reached"
                f" ({self.unanswered[call.arm]} calls failed to connect, none answered)"
            )

    async def _call(self, case: Case, arm: str, repeat: int) -> Call:
        body = orjson.dumps(case.request)
        for attempt in itertools.count(1):
            ex, retry_after = await self._send(case, arm, repeat, body)
            last = attempt > self.settings.retries or self.run.stopped is not None
            if last or not _retryable(ex, retry_after):
                return _call_of(ex, case, arm, repeat, attempt)
            await asyncio.sleep(self._delay(attempt, retry_after))
        raise AssertionError("unreachable")

    async def _send(
        self, case: Case, arm: str, repeat: int, body: bytes
    ) -> tuple[Exchange, float | None]:
        call_id = uuid.uuid4().hex
        headers = {
            "content-type": "application/json",
            ARM_HEADER: arm,
            CALL_HEADER: call_id,
            REPEAT_HEADER: str(repeat),
            # hop-by-hop: the forward stage drops them, the provider never sees them
            "connection": f"keep-alive, {ARM_HEADER}, {CALL_HEADER}, {REPEAT_HEADER}",
        }
        async with self.session.post(self.paths[case.api], data=body, headers=headers) as answer:
            await answer.read()  # what the SDK would read; the exchange has what was observed
            retry_after = _seconds(answer.headers.get("retry-after"))
        ex = self.harness.collect.take(call_id)
        if ex is None:
            raise EvalError(f"case {case.id!r}: the harness kept no exchange for the call")
        return ex, retry_after

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        base = self.settings.backoff * 2 ** (attempt - 1)
        return base * (0.5 + random.random())  # jitter: retries of many workers spread out


def _retryable(ex: Exchange, retry_after: float | None) -> bool:
    if retry_after is not None and retry_after > RETRY_AFTER_CAP:
        return False
    status = ex.status or (ex.error.status if ex.error is not None else 0)
    return status == 429 or status >= 500


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: rare from LLM providers, and backoff covers it


def _call_of(ex: Exchange, case: Case, arm: str, repeat: int, attempts: int) -> Call:
    obs = ex.observation
    usage = obs.usage if obs is not None else None
    error = error_kind(ex)
    answer = Answer(
        text=None if error is not None else (obs.content if obs is not None else None),
        error=error,
        refused=ex.refusal is not None,
        tool_calls=tuple(obs.tool_calls) if obs is not None else (),
        output_tokens=usage.output_tokens if usage is not None else None,
        json_result=ex.json_result,
    )
    ttft = None
    if obs is not None and ex.stream and obs.first_token_at is not None:
        ttft = obs.first_token_at - ex.started
    return Call(
        case=case.id,
        arm=arm,
        repeat=repeat,
        answer=answer,
        status=ex.status,
        duration=ex.duration,
        ttft=ttft,
        cost_usd=ex.cost_usd,
        input_tokens=usage.input_tokens if usage is not None else None,
        model=ex.model,
        cached="cache_hit" in ex.notes,
        attempts=attempts,
        checks=tuple(check_case(case.expect, answer)) if case.expect is not None else (),
    )
