"""Redis killed and restarted empty under a running fleet: two `rollout serve` replicas and a
standalone `rollout controller`, three automatic rollouts. A rollback, an operator's kill switch
and a ramp at 70% each come back as they were (one `state_restored` entry each), none restarts
from the config, and the candidate's subjects stay on the candidate."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from pathlib import Path

import openai
import pytest

from tests.e2e.fleet import ERRORS, TOKEN, Case, Fleet, candidates_at, redis_fleet
from tests.e2e.watch import audit, wait_entry, wait_phase
from tests.support.proxy_process import (
    admin_call,
    metric_sum,
    rollout_state,
    scrape,
    wait_rollout_state,
)
from tests.support.redis_server import RedisServer

# Held at every stage (an hour each): only people move these rollouts.
HELD = (
    "automatic: true, stages: [10, 70, 100], min_duration: 3600, min_requests: 40,"
    " evaluation_interval: 1, bake_time: 2, rollback_after: 2"
)
ROLLED, KILLED, RAMPED = (Case(n, f"[{ERRORS}]", plan=HELD) for n in ("rolled", "killed", "ramped"))
CASES = (ROLLED, KILLED, RAMPED)
SUBJECTS = [f"user-{i}" for i in range(30)]


@pytest.fixture
def fleet(own_redis: RedisServer, tmp_path: Path) -> Iterator[Fleet]:
    with redis_fleet(own_redis, CASES, tmp_path, standalone=True) as fleet:
        yield fleet


async def _served(fleet: Fleet, case: Case, subjects: Sequence[str]) -> dict[str, set[str]]:
    """Which model answered each subject, on every replica."""
    models: dict[str, set[str]] = {s: set() for s in subjects}
    for url in fleet.urls:
        async with openai.AsyncOpenAI(base_url=url + "/v1", api_key="k", max_retries=0) as client:
            for subject in subjects:
                answer = await client.chat.completions.create(
                    model=case.baseline,
                    messages=[{"role": "user", "content": "hi"}],
                    extra_headers={"x-user-id": subject},
                )
                models[subject].add(answer.model)
    return models


def _candidates(models: dict[str, set[str]], case: Case) -> set[str]:
    return {s for s, seen in models.items() if seen == {case.candidate}}


async def _change(fleet: Fleet, path: str, **body: object) -> None:
    await admin_call(TOKEN, fleet.replicas[0], path, {"reason": "e2e", **body})


async def test_a_store_restarted_empty_undoes_no_rollback_kill_or_ramp(
    fleet: Fleet, own_redis: RedisServer
) -> None:
    first = fleet.replicas[0]
    for case in CASES:
        await wait_phase(first, case.name, ("ramping",), 20)  # the controller started them
    await _change(fleet, "/v1/rollouts/rolled/rollback")
    await _change(fleet, "/v1/rollouts/killed", killed=True)
    await _change(fleet, "/v1/rollouts/ramped/promote")
    for replica in fleet.replicas:
        await wait_rollout_state(replica, "rolled", phase="rolled_back", weight=0.0, epoch=1)
        await wait_rollout_state(replica, "killed", killed=True)
        await wait_rollout_state(replica, "ramped", weight=0.7)
    cohort = candidates_at(RAMPED.name, SUBJECTS, 0.7)
    assert _candidates(await _served(fleet, RAMPED, SUBJECTS), RAMPED) == cohort
    before = {c.name: await rollout_state(first, c.name) for c in CASES}
    await asyncio.sleep(1.5)  # every controller has looked at the changes

    own_redis.kill()
    own_redis.start()  # no persistence: every document, the audit log, stickiness: gone

    for case in CASES:
        await wait_entry(first, case.name, 15, action="state_restored")
    await asyncio.sleep(2.5)  # two more looks of the leader: nothing may start again
    fields = ("phase", "weight", "max_weight", "killed", "epoch", "version")
    for case in CASES:
        actions = [e["action"] for e in await audit(first, case.name)]
        assert actions == ["state_restored"], (case.name, actions)
        for replica in fleet.replicas:
            state = await rollout_state(replica, case.name)
            assert {f: state[f] for f in fields} == {f: before[case.name][f] for f in fields}
        restored = sum(
            metric_sum(scrape(m.admin_url), "llm_rollout_state_restored_total", rollout=case.name)
            for m in fleet.members().values()
        )
        assert restored == 1  # one process wrote it back, the others read what it wrote
    assert _candidates(await _served(fleet, RAMPED, SUBJECTS), RAMPED) == cohort
    assert not _candidates(await _served(fleet, KILLED, SUBJECTS), KILLED)
    assert not _candidates(await _served(fleet, ROLLED, SUBJECTS), ROLLED)
