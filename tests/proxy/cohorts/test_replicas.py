"""Two real `rollout serve` processes sharing one real Redis: they assign every subject alike,
follow each other's admin changes within a second, keep a candidate sticky when the weight comes
down, and keep serving when Redis dies, hangs or is not there at start.

The upstream is the fake provider (in this process); what it recorded says which model, hence
which arm, each request was really sent with. Rollout `<r>` governs the requested model
`ask-<r>`; its candidate serves `cand-<r>`; its baseline changes nothing.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from proxy.fake_provider import RECEIVED
from rollout.store import RedisStore
from rollout.targeting.cohorts import bucket, stored_subject
from tests.support.proxy_process import (
    ProxyProcess,
    admin_call,
    http_status,
    metric_sum,
    proxy_process,
    rollout_state,
    scrape,
    wait_rollout_state,
    wait_status,
)
from tests.support.redis_server import RedisServer
from tests.support.servers import RunningServer

TOKEN = "replica-test-token"
ENV = {"LLM_ROLLOUT_ADMIN_TOKEN": TOKEN}
STORE_TIMEOUT = 0.25  # the config's default store.timeout
BACKOFF_MAX = 10.0  # proxy/cohorts/store_guard.py


def rollout_yaml(name: str, weight: float) -> str:
    return f"""
  - name: {name}
    models: [ask-{name}]
    subject: [header:x-user-id]
    weight: {weight}
    candidate: {{model: cand-{name}}}"""


def config_yaml(fake: RunningServer, store: str, rollouts: str) -> str:
    return f"""
providers:
  fake: {{base_url: "{fake.url}/v1"}}
routes: [{{prefix: /v1, provider: fake}}]
store: {store}
rollouts:{rollouts}
"""


def expected(rollout: str, subject: str, weight: float) -> str:
    return f"cand-{rollout}" if bucket(rollout, subject) < weight else f"ask-{rollout}"


@dataclass(frozen=True)
class Answer:
    status: int  # 0: no HTTP answer at all
    model: str | None  # the model the provider answered as: the one it was sent
    seconds: float


Jobs = Sequence[tuple[ProxyProcess, str]]  # (replica, subject)


async def ask_all(
    jobs: Jobs, rollout: str, concurrency: int = 8, out: list[Answer] | None = None
) -> list[Answer]:
    """One chat call per job, `concurrency` at a time; answers in job order (and appended to
    `out` in the order they come)."""
    done = out if out is not None else []
    gate = asyncio.Semaphore(concurrency)
    body = {"model": f"ask-{rollout}", "messages": [{"role": "user", "content": "hi"}]}
    timeout = aiohttp.ClientTimeout(total=10)

    async def one(http: aiohttp.ClientSession, replica: ProxyProcess, subject: str) -> Answer:
        headers = {"x-user-id": subject, "x-test-replica": str(replica.port)}
        async with gate:
            start = time.monotonic()
            try:
                async with http.post(
                    replica.url + "/v1/chat/completions", json=body, headers=headers
                ) as resp:
                    payload = await resp.json(content_type=None)
                    model = payload.get("model") if resp.status == 200 else None
                    answer = Answer(resp.status, model, time.monotonic() - start)
            except (aiohttp.ClientError, TimeoutError):
                answer = Answer(0, None, time.monotonic() - start)
            done.append(answer)
            return answer

    async with aiohttp.ClientSession(timeout=timeout) as http:
        return list(await asyncio.gather(*(one(http, r, s) for r, s in jobs)))


def models(answers: list[Answer]) -> list[str | None]:
    failed = [a for a in answers if a.status != 200]
    assert not failed, f"{len(failed)} of {len(answers)} requests failed: {failed[:3]}"
    return [a.model for a in answers]


def both(a: ProxyProcess, b: ProxyProcess, subjects: Sequence[str]) -> Jobs:
    """Every subject through both replicas, which one first alternating."""
    jobs: list[tuple[ProxyProcess, str]] = []
    for i, s in enumerate(subjects):
        jobs += [(a, s), (b, s)] if i % 2 == 0 else [(b, s), (a, s)]
    return jobs


def alternate(a: ProxyProcess, b: ProxyProcess, subjects: Sequence[str]) -> Jobs:
    return [((a, b)[i % 2], s) for i, s in enumerate(subjects)]


def store_metric(replica: ProxyProcess, name: str, **labels: str) -> float:
    return metric_sum(scrape(replica.admin_url), f"llm_rollout_{name}", **labels)


async def wait_recorded(url: str, prefix: str, scope: str, subjects: list[str]) -> None:
    """Until the shared Redis holds a candidate record for every one of `subjects`."""
    store = RedisStore(url, key_prefix=prefix)
    try:
        deadline = time.monotonic() + 5
        keys = [stored_subject(scope, s) for s in subjects]
        while set(await store.assignments.get_arms(scope, keys)) != set(keys):
            assert time.monotonic() < deadline, "candidate assignments not written within 5 s"
            await asyncio.sleep(0.1)
    finally:
        await store.close()


# -- Two replicas on the session's Redis, one rollout per test (own key prefix per run) ---------


@dataclass
class Shared:
    a: ProxyProcess
    b: ProxyProcess
    redis_url: str
    prefix: str


@pytest.fixture(scope="module")
def shared(
    redis_server: RedisServer, fake: RunningServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Shared]:
    prefix = f"replicas-{uuid.uuid4().hex[:8]}:"
    store = f'{{redis_url: "{redis_server.url}", key_prefix: "{prefix}"}}'
    rollouts = rollout_yaml("same", 0.3) + rollout_yaml("kill", 0.3) + rollout_yaml("sticky", 0.1)
    yaml, directory = config_yaml(fake, store, rollouts), tmp_path_factory.mktemp("replicas")
    with (
        proxy_process(yaml, directory, name="a", env=ENV) as a,
        proxy_process(yaml, directory, name="b", env=ENV) as b,
    ):
        yield Shared(a, b, redis_server.url, prefix)


async def test_both_replicas_assign_as_the_hash_says(shared: Shared, fake: RunningServer) -> None:
    a, b = shared.a, shared.b
    subjects = [f"user-{i}" for i in range(200)]
    fake.app[RECEIVED].clear()  # type: ignore[index]
    answers = await ask_all(both(a, b, subjects), "same")
    models(answers)
    received = {
        (int(r.headers["x-test-replica"]), r.headers["x-user-id"]): r.json["model"]
        for r in list(fake.app[RECEIVED])  # type: ignore[index]
        if r.json and r.json["model"] in ("ask-same", "cand-same")
    }
    want = {(r.port, s): expected("same", s, 0.3) for r in (a, b) for s in subjects}
    assert received == want
    # The answer names the model the provider was sent: later tests read the arm from it.
    assert [a.model for a in answers] == [received[(r.port, s)] for r, s in both(a, b, subjects)]
    assert 40 <= list(want.values()).count("cand-same") / 2 <= 80  # ~30% of 200


async def test_kill_switch_on_one_replica_reaches_the_other_within_1s(shared: Shared) -> None:
    a, b = shared.a, shared.b
    candidates = [s for s in (f"user-{i}" for i in range(100)) if bucket("kill", s) < 0.3][:20]
    assert set(models(await ask_all([(b, s) for s in candidates], "kill"))) == {"cand-kill"}

    start = time.monotonic()
    await admin_call(TOKEN, a, "/v1/rollouts/kill", {"killed": True, "reason": "replica test"})
    while True:
        served = models(await ask_all([(b, s) for s in candidates], "kill"))
        delay = time.monotonic() - start
        if set(served) == {"ask-kill"}:
            break
        assert delay < 3, f"replica B still serves the candidate {delay:.2f} s after the kill"
    print(f"kill switch: replica B served everyone the baseline after {delay:.3f} s")
    assert delay < 1.0
    assert set(models(await ask_all([(a, s) for s in candidates], "kill"))) == {"ask-kill"}


async def test_candidates_stay_when_the_weight_comes_down_until_rollback(shared: Shared) -> None:
    a, b = shared.a, shared.b
    seen = [f"user-{i}" for i in range(200)]
    new = [f"new-{i}" for i in range(200)]
    await admin_call(TOKEN, a, "/v1/rollouts/sticky", {"weight": 0.6, "reason": "ramp up"})
    await wait_rollout_state(b, "sticky", weight=0.6)
    assert models(await ask_all([(b, s) for s in seen], "sticky")) == [
        expected("sticky", s, 0.6) for s in seen
    ]
    # B writes its new candidates to the store once a second: wait for them, then come down.
    state = await rollout_state(b, "sticky")
    scope = f"sticky:{state['version']}:{state['epoch']}"
    had_candidate = [s for s in seen if bucket("sticky", s) < 0.6]
    await wait_recorded(shared.redis_url, shared.prefix, scope, had_candidate)
    await admin_call(
        TOKEN, a, "/v1/rollouts/sticky", {"weight": 0.2, "reason": "too many complaints"}
    )
    await wait_rollout_state(b, "sticky", weight=0.2, max_weight=0.6)

    assert sum(0.2 <= bucket("sticky", s) < 0.6 for s in new) > 50  # the case under test
    jobs = both(a, b, seen + new)
    want = [expected("sticky", s, 0.6 if s in seen else 0.2) for _, s in jobs]
    assert models(await ask_all(jobs, "sticky")) == want

    rolled = await admin_call(TOKEN, a, "/v1/rollouts/sticky/rollback", {"reason": "gate failed"})
    assert (rolled["weight"], rolled["epoch"]) == (0.0, state["epoch"] + 1)
    await wait_rollout_state(b, "sticky", weight=0.0, max_weight=0.0, epoch=state["epoch"] + 1)
    assert set(models(await ask_all(jobs, "sticky"))) == {"ask-sticky"}


# -- Redis failures: a redis-server of the test's own ------------------------------------------


@pytest.fixture
def outage(
    own_redis: RedisServer, fake: RunningServer, tmp_path: Path
) -> Iterator[tuple[ProxyProcess, ProxyProcess]]:
    yaml = config_yaml(fake, f'{{redis_url: "{own_redis.url}"}}', rollout_yaml("out", 0.3))
    with (
        proxy_process(yaml, tmp_path, name="a", env=ENV) as a,
        proxy_process(yaml, tmp_path, name="b", env=ENV) as b,
    ):
        yield a, b


async def test_redis_killed_mid_traffic(
    own_redis: RedisServer, outage: tuple[ProxyProcess, ProxyProcess]
) -> None:
    a, b = outage
    errors_before = [store_metric(r, "store_errors_total") for r in (a, b)]
    subjects = [f"stream-{i}" for i in range(300)]
    finished: list[Answer] = []  # in completion order

    async def kill_when(count: int) -> None:
        while len(finished) < count:
            await asyncio.sleep(0.002)
        own_redis.kill()

    killer = asyncio.create_task(kill_when(100))
    answers = await ask_all(alternate(a, b, subjects), "out", concurrency=4, out=finished)
    await killer
    assert models(answers) == [expected("out", s, 0.3) for s in subjects]  # zero failures

    deadline = time.monotonic() + 5  # the next flush (once a second) meets the dead store
    for replica, before in zip((a, b), errors_before, strict=True):
        while store_metric(replica, "store_up") != 0 or (
            store_metric(replica, "store_errors_total") <= before
        ):
            assert time.monotonic() < deadline, "store outage not reported within 5 s"
            await asyncio.sleep(0.1)

    own_redis.start()  # same port, empty
    restarted = time.monotonic()
    for replica in (a, b):
        while store_metric(replica, "store_up") != 1:
            assert time.monotonic() - restarted < BACKOFF_MAX + 2, "store not back in time"
            await asyncio.sleep(0.1)
    print(f"redis restart: store_up 1 on both replicas after {time.monotonic() - restarted:.2f} s")
    # Candidates assigned while Redis was dead were kept and are written now it is back.
    version = (await rollout_state(a, "out"))["version"]
    late = [s for s in subjects[110:] if bucket("out", s) < 0.3]
    await wait_recorded(own_redis.url, "llmr:", f"out:{version}:0", late)


async def test_hung_redis_delays_a_request_by_at_most_the_store_timeout(
    own_redis: RedisServer, outage: tuple[ProxyProcess, ProxyProcess]
) -> None:
    a, b = outage
    # Weight down from 0.6 to 0.2: subjects in between need a store lookup (the only request-path
    # store call), so a hung store is felt on the request path, if anywhere.
    await admin_call(TOKEN, a, "/v1/rollouts/out", {"weight": 0.6, "reason": "up"})
    await admin_call(TOKEN, a, "/v1/rollouts/out", {"weight": 0.2, "reason": "down"})
    await wait_rollout_state(b, "out", weight=0.2, max_weight=0.6)
    warm = [f"warm-{i}" for i in range(80)]
    normal = max(x.seconds for x in await ask_all(alternate(a, b, warm), "out", concurrency=4))
    lookups_before = sum(
        store_metric(r, "store_errors_total", op="assignments.get") for r in (a, b)
    )

    hung = [f"hung-{i}" for i in range(160)]
    own_redis.pause()
    try:
        answers = await ask_all(alternate(a, b, hung), "out", concurrency=4)
    finally:
        own_redis.resume()
    assert models(answers) == [expected("out", s, 0.2) for s in hung]
    worst = max(x.seconds for x in answers)
    print(f"hung redis: worst request {worst * 1000:.0f} ms, normal worst {normal * 1000:.0f} ms")
    assert worst <= normal + STORE_TIMEOUT + 0.25
    lookups = sum(store_metric(r, "store_errors_total", op="assignments.get") for r in (a, b))
    assert lookups > lookups_before  # the lookups did meet the hung store


async def test_redis_unreachable_at_start(fake: RunningServer, tmp_path: Path) -> None:
    redis = RedisServer()  # its port is free; started later
    store = f'{{redis_url: "{redis.url}"'
    rollouts = rollout_yaml("cold", 0.3)
    try:
        with (
            proxy_process(config_yaml(fake, store + "}", rollouts), tmp_path, name="a") as a,
            proxy_process(
                config_yaml(fake, store + ", require: true}", rollouts),
                tmp_path,
                name="b",
                ready_path="/healthz",
            ) as b,
        ):
            assert http_status(a.admin_url + "/readyz") == 200
            assert http_status(b.admin_url + "/readyz") == 503  # store.require, Redis down
            assert http_status(b.url + "/readyz") == 503
            subjects = [f"cold-{i}" for i in range(100)]
            answers = await ask_all(both(a, b, subjects), "cold")
            assert models(answers) == [expected("cold", s, 0.3) for _, s in both(a, b, subjects)]
            assert [store_metric(r, "store_up") for r in (a, b)] == [0, 0]

            redis.start()
            waited = wait_status(b, b.admin_url + "/readyz", 200, BACKOFF_MAX + 2)
            print(f"store.require: ready {waited:.2f} s after Redis came up")
            assert http_status(b.url + "/readyz") == 200
    finally:
        redis.close()
