"""The controller's leader dies mid-ramp: two `rollout serve` replicas on one real Redis, each
with its embedded controller; the replica whose controller leads is killed (SIGKILL: the lock is
not released, it runs out) while the ramp is at 50%. The other replica's controller takes over
and the ramp goes on from 50%: no stage entered twice, no stage clock restarted."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.fleet import HANDOVER, Fleet, redis_fleet, subjects_by_stage
from tests.e2e.watch import (
    assert_one_writer,
    audit,
    controller_pid,
    promoted_to,
    wait_entry,
    wait_phase,
)
from tests.support.redis_server import RedisServer
from tests.support.subject_load import SubjectLoad


@pytest.fixture
def fleet(redis_server: RedisServer, tmp_path: Path) -> Iterator[Fleet]:
    with redis_fleet(redis_server, [HANDOVER], tmp_path, standalone=False) as fleet:
        yield fleet


async def test_the_leader_killed_mid_ramp_the_other_replica_carries_on(fleet: Fleet) -> None:
    name = HANDOVER.name
    async with SubjectLoad(HANDOVER.ask, fleet.urls, subjects_by_stage(name)) as load:
        at_50 = await wait_entry(fleet.replicas[0], name, 30, action="promote", weight=0.5)
        leader = next(r for r in fleet.replicas if r.process.pid == controller_pid(at_50))
        survivor = next(r for r in fleet.replicas if r is not leader)
        load.skip.add(leader.url)
        leader.process.kill()
        leader.process.wait(5)
        killed_at = time.time()
        await wait_phase(survivor, name, ("complete", "rolled_back"), 60)
    entries = await audit(survivor, name)
    assert [e["action"] for e in entries] == ["promote", "promote", "promote", "complete"]
    assert promoted_to(entries) == [0.1, 0.5, 1.0]  # 50% was not entered again
    after = [e for e in entries if e["ts"] > killed_at]
    assert [e["action"] for e in after] == ["promote", "complete"]
    assert {controller_pid(e) for e in after} == {survivor.process.pid}  # the standby took over
    # It went on from the 50% stage the dead leader had entered; restarting that stage (its
    # clock, its counts) would have been a write, hence an entry, and there is none.
    assert after[0]["before"]["stage"] == 1 and after[0]["before"]["weight"] == 0.5
    assert_one_writer(entries)
    took = after[0]["ts"] - killed_at
    print(f"takeover: the survivor's first decision came {took:.2f} s after the kill")
    served = [a for a in load.answers if a.replica == survivor.url]
    assert served and {a.status for a in served} == {200}
