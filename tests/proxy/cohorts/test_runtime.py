"""Runtime state on one replica: what it does with the store's documents."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from proxy.cohorts.compiled import compile_rollout
from proxy.cohorts.runtime import Runtime
from rollout.config.rollouts import Rollout
from rollout.flags import FlagSet
from rollout.live_state import initial_state, state_key
from rollout.operations import set_rollout
from rollout.store import Store, open_store

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
