"""A replica whose store lost its data (a real redis-server killed and restarted empty): it
writes back the state it knew, and holds on the baseline when it knew nothing of the version."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from proxy.cohorts.compiled import compile_rollout
from proxy.cohorts.runtime import Runtime
from rollout.config.rollouts import Rollout, Variant
from rollout.control.live_state import config_state, state_key
from rollout.control.operations import set_rollout
from rollout.control.state_metrics import STATE_LOST
from rollout.store import Store, open_store
from rollout.targeting.flags import FlagSet
from tests.support.redis_server import RedisServer
from tests.support.until import until

ROLLOUT = Rollout.model_validate({"name": "r", "weight": 0.2, "candidate": {"model": "x"}})
KEY = state_key("r")


@pytest.fixture
async def store(own_redis: RedisServer, tmp_path: Path) -> AsyncIterator[Store]:
    opened = open_store(own_redis.url, tmp_path, timeout=2.0)
    yield opened
    await opened.close()


async def _runtime(store: Store, rollout: Rollout = ROLLOUT) -> Runtime:
    runtime = Runtime([compile_rollout(rollout, {})], FlagSet([]), store, refresh_seconds=0.2)
    await runtime.refresh("test")
    return runtime


async def _set(
    store: Store, rollout: Rollout, weight: float | None = None, killed: bool | None = None
) -> None:
    default = config_state(rollout)
    name, version = rollout.name, rollout.version
    await set_rollout(
        store, name, version, default, actor="ops", reason="t", weight=weight, killed=killed
    )


def _restart_empty(server: RedisServer) -> None:
    server.kill()
    server.start()  # no persistence: everything is gone


async def test_a_kill_switch_lost_with_the_store_is_written_back(
    store: Store, own_redis: RedisServer
) -> None:
    runtime = await _runtime(store)
    await _set(store, ROLLOUT, weight=0.43, killed=True)
    await runtime.refresh("test")
    _restart_empty(own_redis)

    async def written_back() -> bool:
        await runtime.refresh("test")  # the first may meet the closed connection
        return (await store.documents.read(KEY))[0] is not None

    await until(written_back, 5)
    doc, _ = await store.documents.read(KEY)
    assert doc is not None and (doc["killed"], doc["weight"]) == (True, 0.43)
    state = runtime.state("r")
    assert state.killed and state.weight == 0.43  # served meanwhile: never the config's
    entries = await store.audit.read("r")
    assert [e["action"] for e in entries] == ["state_restored"]  # the old log went too


async def test_nothing_known_of_the_version_serves_the_baseline_until_someone_decides(
    store: Store, own_redis: RedisServer
) -> None:
    runtime = await _runtime(store)
    await _set(store, ROLLOUT, weight=0.0, killed=True)  # v1 killed by an operator
    await runtime.refresh("test")
    _restart_empty(own_redis)
    await store.ping()  # meets the closed connection
    # A new candidate (a new version) arrives with the reload just as the data is lost.
    new = ROLLOUT.model_copy(update={"weight": 0.3, "candidate": Variant(model="y")})
    await runtime.reconfigure([compile_rollout(new, {})], FlagSet([]))

    assert runtime.state("r").weight == 0.0  # not the config's 0.3
    assert STATE_LOST.labels("r")._value.get() == 1
    await _set(store, new, weight=0.1)  # an operator decides
    await runtime.refresh("test")
    assert runtime.state("r").weight == 0.1
    assert STATE_LOST.labels("r")._value.get() == 0
