"""A state document the store lost: written back from what a process knew, never restarted from
the config. The store loses its data for real: a redis-server killed and restarted empty, or the
embedded store's data directory deleted under the running process."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from rollout.config.plan import Plan
from rollout.config.rollouts import Rollout, Variant
from rollout.control.controller import Controller
from rollout.control.human_actions import act, transition
from rollout.control.live_state import config_state, state_key
from rollout.control.operations import set_rollout
from rollout.control.state_keeper import keep_states
from rollout.control.state_metrics import STATE_LOST
from rollout.errors import StoreError
from rollout.store import Store, open_store
from tests.rollout.control.test_controller import Clock

PLAN = Plan(automatic=True, evaluation_interval=10, min_duration=3600)
ROLLOUT = Rollout.model_validate({"name": "summarise", "candidate": {"model": "m2"}, "plan": PLAN})
KEY = state_key(ROLLOUT.name)
PROXY_FIELDS = ("version", "weight", "max_weight", "killed", "epoch", "phase", "stage")


@dataclass
class Lossy:
    """A store that can lose its data, and a way to open it again as another process would."""

    kind: str
    opener: Callable[[], Store]
    lose: Callable[[], None]
    opened: list[Store] = field(default_factory=list)

    def open(self) -> Store:
        store = self.opener()
        self.opened.append(store)
        return store


@pytest.fixture(params=["embedded", "redis"])
async def lossy(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Lossy]:
    if request.param == "redis":
        server = request.getfixturevalue("own_redis")
        lossy = Lossy(
            "redis",
            lambda: open_store(server.url, tmp_path, timeout=2.0),
            lambda: (server.kill(), server.start()),  # restarted empty: no persistence
        )
    else:
        data = tmp_path / "data"
        lossy = Lossy("embedded", lambda: open_store(None, data), lambda: shutil.rmtree(data))
    yield lossy
    for store in lossy.opened:
        await store.close()


async def _by_hand(store: Store, action: str, clock: Clock) -> None:
    await act(store, ROLLOUT, transition(action), actor="ops", reason="why", clock=clock)


async def _kill(store: Store, clock: Clock) -> None:
    default = config_state(ROLLOUT)
    await set_rollout(
        store, ROLLOUT.name, ROLLOUT.version, default, actor="ops", reason="stop", killed=True
    )


async def _step(controller: Controller) -> None:
    """One step, as the controller's loop makes them: a step that found the store down (the
    first call after a restart may meet the old, closed connection) is made again."""
    try:
        await controller.step()
    except StoreError:
        await controller.step()


async def _fields(store: Store) -> dict[str, Any]:
    doc, _ = await store.documents.read(KEY)
    assert doc is not None
    return {f: doc.get(f) for f in PROXY_FIELDS}


async def _audit(store: Store, action: str) -> list[dict[str, Any]]:
    return [e for e in await store.audit.read(ROLLOUT.name) if e["action"] == action]


CHANGES = {
    "rollback": lambda store, clock: _by_hand(store, "rollback", clock),
    "kill": _kill,
    "ramp": lambda store, clock: _by_hand(store, "promote", clock),  # a later stage, weight up
}


@pytest.mark.parametrize("change", sorted(CHANGES))
async def test_a_lost_state_is_written_back_not_restarted(lossy: Lossy, change: str) -> None:
    store, clock = lossy.open(), Clock()
    controller = Controller(store, [ROLLOUT], clock)
    await controller.step()  # started: the first stage
    await CHANGES[change](store, clock)
    clock.now += 10
    await controller.step()  # the controller has seen the change
    before = await _fields(store)

    lossy.lose()
    clock.now += 10
    await _step(controller)  # the next look finds nothing stored

    assert await _fields(store) == before  # weight, max_weight, epoch: stickiness keeps its reach
    restored = await _audit(store, "state_restored")
    assert len(restored) == 1 and restored[0]["after"]["phase"] == before["phase"]
    # A restart after it (a new process, the same store) goes on from the written-back state.
    await store.close()
    again = lossy.open()
    clock.now += 10
    await Controller(again, [ROLLOUT], clock).step()
    assert await _fields(again) == before


async def test_nothing_known_of_the_version_holds_until_an_operator_resumes(
    lossy: Lossy,
) -> None:
    store, clock = lossy.open(), Clock()
    controller = Controller(store, [ROLLOUT], clock)
    await controller.step()
    await _by_hand(store, "rollback", clock)
    clock.now += 10
    await controller.step()
    # The store loses its data just as a new candidate (a new version) is deployed: whether the
    # new version had been ramped, killed or rolled back elsewhere, nobody here can tell.
    lossy.lose()
    new = ROLLOUT.model_copy(update={"candidate": Variant(model="m3")})
    controller.rollouts = [new]
    clock.now += 10
    await _step(controller)

    doc, _ = await store.documents.read(KEY)
    assert doc is not None and doc["version"] == new.version
    assert (doc["phase"], doc["weight"]) == ("paused", 0.0)  # the baseline, no ramp
    assert [e["action"] for e in await store.audit.read(ROLLOUT.name)][-1] == "state_lost"
    assert STATE_LOST.labels(ROLLOUT.name)._value.get() == 1
    clock.now += 10
    await controller.step()
    assert (await _fields(store))["phase"] == "paused"  # still held: a person decides

    await act(store, new, transition("resume"), actor="ops", reason="checked", clock=clock)
    clock.now += 10
    await controller.step()
    assert (await _fields(store))["phase"] == "ramping"  # from the first stage
    assert STATE_LOST.labels(ROLLOUT.name)._value.get() == 0


async def _restart_empty(server: Any, *stores: Store) -> None:
    """Kill redis-server and start it again, empty; each store has met the closed connection
    once (as a process's first call after a restart does) and is connected again."""
    server.kill()
    server.start()
    for store in stores:
        await store.ping()


@pytest.fixture
async def peers(own_redis: Any, tmp_path: Path) -> AsyncIterator[tuple[Store, Store]]:
    """Two processes' stores on one Redis, each with its own memory."""
    opened = [open_store(own_redis.url, tmp_path, timeout=2.0) for _ in range(2)]
    yield keep_states(opened[0], "a"), keep_states(opened[1], "b")
    for store in opened:
        await store.close()


async def test_processes_racing_to_write_back_write_once(
    peers: tuple[Store, Store], own_redis: Any
) -> None:
    a, b = peers
    clock = Clock()
    await Controller(a, [ROLLOUT], clock).step()
    await _by_hand(a, "rollback", clock)
    await b.documents.read(KEY)
    await _restart_empty(own_redis, a, b)
    (doc_a, rev_a), (doc_b, rev_b) = await asyncio.gather(
        a.documents.read(KEY), b.documents.read(KEY)
    )
    assert (doc_a, rev_a) == (doc_b, rev_b) and doc_a is not None
    assert doc_a["phase"] == "rolled_back"
    assert len(await _audit(a, "state_restored")) == 1


async def test_the_newest_known_state_wins_whoever_writes_back_first(
    peers: tuple[Store, Store], own_redis: Any
) -> None:
    a, b = peers
    clock = Clock()
    await Controller(a, [ROLLOUT], clock).step()
    await a.documents.read(KEY)  # a knows the ramp ...
    await _kill(b, clock)  # ... b the kill switch after it; a has not read it yet
    await _restart_empty(own_redis, a, b)
    stale, _ = await a.documents.read(KEY)  # a writes back first: without the kill switch
    assert stale is not None and stale["killed"] is False
    newer, _ = await b.documents.read(KEY)  # b knew better: it writes its own over it
    assert newer is not None and newer["killed"] is True
    assert (await a.documents.read(KEY))[0] == newer
    assert len(await _audit(a, "state_restored")) == 2


async def test_a_standby_that_takes_the_lead_after_the_loss_writes_back(
    own_redis: Any, tmp_path: Path
) -> None:
    """The leader lock goes with the data: whichever controller leads next must know the state,
    so a standby follows the state documents too."""
    raw = [open_store(own_redis.url, tmp_path, timeout=2.0) for _ in range(2)]
    try:
        clock = Clock()
        leader, standby = (Controller(s, [ROLLOUT], clock) for s in raw)
        await leader.step()
        assert await standby.step() == {}  # not leading
        await _by_hand(raw[0], "rollback", clock)
        clock.now += 10
        await leader.step()
        await standby.step()
        await _restart_empty(own_redis, *raw)
        await leader.close()  # the old leader is gone (its process died with the node, say)
        clock.now += 10
        await _step(standby)
        fields = await _fields(raw[1])
        assert (fields["phase"], fields["weight"], fields["epoch"]) == ("rolled_back", 0.0, 1)
    finally:
        for store in raw:
            await store.close()
