"""Runtime state on one replica: what it does with the store's documents."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from proxy.cohorts.compiled import compile_rollout
from proxy.cohorts.runtime import Runtime
from rollout.config.flags import Flag
from rollout.config.rollouts import Rollout, Variant
from rollout.control.live_state import initial_state, state_key
from rollout.control.operations import set_flag, set_rollout
from rollout.store import Store, open_store
from rollout.targeting.flags import FlagSet

ROLLOUT = Rollout.model_validate({"name": "r", "weight": 0.5, "candidate": {"model": "x"}})


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = open_store(None, tmp_path / "data")
    yield opened
    await opened.close()


async def test_a_vanished_document_does_not_lift_a_kill_switch(store: Store) -> None:
    runtime = Runtime([compile_rollout(ROLLOUT, {})], FlagSet([]), store)
    await runtime.refresh("test")
    assert runtime.state("r").from_store is False  # config's state
    await set_rollout(
        store, "r", ROLLOUT.version, initial_state(0.5, False), actor="t", reason="t", killed=True
    )
    await runtime.refresh("test")
    assert runtime.state("r").killed
    await store.documents.delete(state_key("r"))  # e.g. Redis restarted without persistence
    await runtime.refresh("test")
    assert runtime.state("r").killed and runtime.state("r").weight == 0.5


async def test_a_malformed_document_keeps_the_last_state(store: Store) -> None:
    runtime = Runtime([compile_rollout(ROLLOUT, {})], FlagSet([]), store)
    await store.documents.write(state_key("r"), {"version": ROLLOUT.version, "weight": 7}, 0)
    await runtime.refresh("test")
    assert runtime.state("r") == initial_state(0.5, False)


FLAGS = [Flag.model_validate({"name": "f", "then": {"cap": {"max_tokens": 10}}})]


async def test_a_reconfigure_keeps_what_the_store_says_and_takes_the_rest_from_config(
    store: Store,
) -> None:
    kept = Rollout.model_validate({"name": "kept", "weight": 0.1, "candidate": {"model": "x"}})
    runtime = Runtime([compile_rollout(r, {}) for r in (ROLLOUT, kept)], FlagSet(FLAGS), store)
    await runtime.refresh("test")
    await set_rollout(
        store, "r", ROLLOUT.version, initial_state(0.5, False), actor="t", reason="t", weight=0.2
    )
    await set_flag(store, "f", actor="t", reason="t", enabled=False)
    await runtime.refresh("test")

    same_version = ROLLOUT.model_copy(update={"weight": 0.9})  # the store's 0.2 still wins
    new_candidate = kept.model_copy(update={"weight": 0.3, "candidate": Variant(model="y")})
    added = Rollout.model_validate({"name": "added", "weight": 0.4, "candidate": {"model": "z"}})
    edited = [compile_rollout(r, {}) for r in (same_version, new_candidate, added)]
    flags = FlagSet(FLAGS)
    await runtime.reconfigure(edited, flags)

    assert {n: runtime.state(n).weight for n in ("r", "kept", "added")} == {
        "r": 0.2,
        "kept": 0.3,  # a new version starts from the config
        "added": 0.4,
    }
    assert runtime.flags is flags and not flags.flags[0].enabled  # the override stays applied
    assert runtime.rollouts["kept"].version == new_candidate.version


async def test_a_rollout_removed_by_a_reload_serves_the_baseline(store: Store) -> None:
    runtime = Runtime([compile_rollout(ROLLOUT, {})], FlagSet([]), store)
    await runtime.refresh("test")
    await runtime.reconfigure([], FlagSet([]))
    # A request that started before the reload still asks for it.
    assert runtime.state("r").weight == 0.0 and not runtime.state("r").killed
