"""People's actions written to the store like the controller's decisions: one compare-and-set,
audited, published; and neither side undoes the other's change unseen. Embedded store and a
real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from rollout.config.plan import Plan
from rollout.config.rollouts import Rollout
from rollout.control.apply import StaleDecision, apply
from rollout.control.controller import Controller, current_state
from rollout.control.decide import Decision
from rollout.control.human_actions import act, controller_view, transition
from rollout.control.interventions import promote
from rollout.control.live_state import CHANGES_CHANNEL, state_key
from rollout.errors import ActionRefused
from rollout.store import Store
from tests.rollout.control.test_controller import Clock

PLAN = Plan(automatic=True, evaluation_interval=10, approve_before=[25])
ROLLOUT = Rollout.model_validate({"name": "summarise", "candidate": {"model": "m2"}, "plan": PLAN})
BY_HAND = Rollout.model_validate({"name": "manual", "candidate": {"model": "m2"}})
KEY = state_key(ROLLOUT.name)


async def _started(store: Store, clock: Clock) -> Controller:
    """A controller that has made its first look: the rollout is at 1%."""
    controller = Controller(store, [ROLLOUT], clock)
    assert (await controller.step())[ROLLOUT.name].state.weight == 0.01
    return controller


async def _do(store: Store, action: str, clock: Clock, **how: Any) -> Any:
    change = transition(action, **how)
    return await act(store, ROLLOUT, change, actor="ops (alice)", reason="why", clock=clock)


async def _doc(store: Store) -> dict[str, Any]:
    doc, _ = await store.documents.read(KEY)
    assert doc is not None
    return doc


async def test_a_pause_is_written_audited_and_published(store: Store) -> None:
    clock = Clock()
    await _started(store, clock)
    async with store.notifications.subscribe(CHANGES_CHANNEL) as sub:
        assert await sub.wait_subscribed(2.0)
        after = await _do(store, "pause", clock)
        message = await asyncio.wait_for(anext(aiter(sub)), 2.0)
    assert message == {"key": KEY}
    assert (after.phase, after.weight) == ("paused", 0.01)
    doc = await _doc(store)
    assert (doc["phase"], doc["weight"], doc["epoch"]) == ("paused", 0.01, 0)
    entry = (await store.audit.read(ROLLOUT.name))[-1]
    assert {k: entry[k] for k in ("action", "actor", "reason", "by_hand")} == {
        "action": "pause",
        "actor": "ops (alice)",
        "reason": "why",
        "by_hand": True,
    }
    assert (entry["before"]["phase"], entry["after"]["phase"]) == ("ramping", "paused")
    assert entry["reasons"] == ["paused at 1%"]


async def test_the_controller_leaves_a_paused_rollout_where_it_is(store: Store) -> None:
    clock = Clock()
    controller = await _started(store, clock)
    await _do(store, "pause", clock)
    clock.now += 3600
    decision = (await controller.step())[ROLLOUT.name]
    assert (decision.action, decision.state.phase) == ("hold", "paused")
    await _do(store, "resume", clock)
    assert (await _doc(store))["phase"] == "ramping"


async def test_a_pause_during_the_controllers_look_wins(store: Store) -> None:
    """The controller read the document, then a person paused, then it decided: its decision
    (made from the old revision) is not written; its next step sees the pause."""
    clock = Clock()
    controller = await _started(store, clock)
    clock.now += 3600  # long enough to promote... were it not for the pause
    read_window = controller._window

    async def window_with_a_pause(*args: Any) -> Any:
        await _do(store, "pause", clock)
        return await read_window(*args)

    controller._window = window_with_a_pause  # type: ignore[method-assign]
    assert await controller.step() == {}  # nothing applied, and the look not counted
    controller._window = read_window  # type: ignore[method-assign]
    assert (await _doc(store))["phase"] == "paused"
    decision = (await controller.step())[ROLLOUT.name]  # looks again at once
    assert (decision.action, decision.state.phase) == ("hold", "paused")


async def test_an_action_is_computed_again_when_the_controller_wrote_first(store: Store) -> None:
    """Between the person's read and write the controller promoted to 5%: the promote is
    computed again from 5% (to 25% needs an approver: refused), never written from 1%."""
    clock = Clock()
    await _started(store, clock)

    async def controller_promotes() -> None:
        doc, rev = await store.documents.read(KEY)
        state = current_state(doc, ROLLOUT.version, PLAN)
        decision = promote(PLAN, state, clock())
        await apply(store, ROLLOUT.name, ROLLOUT.version, decision, expected_rev=rev)

    store.documents = _Meddling(store.documents, controller_promotes)  # type: ignore[assignment]
    with pytest.raises(ActionRefused, match="entering 25% needs an approver first"):
        await _do(store, "promote", clock)
    assert (await _doc(store))["weight"] == 0.05


async def test_a_stale_decision_writes_nothing(store: Store) -> None:
    clock = Clock()
    await _started(store, clock)
    doc, rev = await store.documents.read(KEY)
    await _do(store, "pause", clock)
    stale = Decision("promote", ("to 5%",), (), current_state(doc, ROLLOUT.version, PLAN))
    with pytest.raises(StaleDecision):
        await apply(store, ROLLOUT.name, ROLLOUT.version, stale, expected_rev=rev)
    assert (await _doc(store))["phase"] == "paused"


async def test_a_rollout_steered_by_hand_refuses(store: Store) -> None:
    with pytest.raises(ActionRefused, match="steered by hand"):
        await act(store, BY_HAND, transition("pause"), actor="a", reason="r")


async def test_the_view_for_people(store: Store) -> None:
    clock = Clock()
    assert controller_view(None, ROLLOUT)["phase"] == "pending"
    await _started(store, clock)
    await _do(store, "promote", clock)
    view = controller_view(await _doc(store), ROLLOUT)
    assert view == {
        "automatic": True,
        "phase": "ramping",
        "stage": 5.0,
        "since": clock.now,
        "awaiting": None,
        "approvals": [],
        "accepted": [],
        "regression_test": {"requests": 500, "false_alarm": 0.01, "made": []},
    }
    assert controller_view(await _doc(store), BY_HAND) == {"automatic": False}


class _Meddling:
    """The store's documents, with someone else's write right after the first read."""

    def __init__(self, documents: Any, meddle: Callable[[], Awaitable[None]]) -> None:
        self._documents, self._meddle = documents, meddle

    async def read(self, key: str) -> Any:
        found = await self._documents.read(key)
        meddle, self._meddle = self._meddle, None
        if meddle is not None:
            await meddle()
        return found

    async def write(self, key: str, doc: Any, expected_rev: int) -> Any:
        return await self._documents.write(key, doc, expected_rev)
