"""apply(): the decision lands in the state document the proxy reads, once, audited and published.

Runs against the embedded store and a real Redis."""

from __future__ import annotations

import asyncio
import math
from dataclasses import replace

import pytest

from rollout.control.apply import apply, controller_fields, controller_state
from rollout.control.decide import Decision, RolloutState
from rollout.control.gates import GateResult
from rollout.control.live_state import CHANGES_CHANNEL, initial_state, state_from_doc, state_key
from rollout.stats.gate_stats import Interval
from rollout.store import Store

NAME, VERSION = "summarise", "v1"
KEY = state_key(NAME)
RAMP_1 = RolloutState(VERSION, "ramping", stage=0, weight=0.01, since=1000.0)
RAMP_5 = RolloutState(VERSION, "ramping", stage=1, weight=0.05, since=1060.0)
ERROR_GATE = GateResult(
    gate="error_rate",
    metric="error_rate",
    klass="primary",
    verdict="fail",
    bound="max_delta_to_baseline 0.01",
    reason="candidate - baseline error_rate 0.1 in [0.07, 0.13] at 99%: beyond 0.01",
    samples=(1000, 1000),
    candidate=0.1,
    baseline=0.0,
    tested="candidate - baseline",
    interval=Interval(0.1, 0.08, 0.12),
    rollback_interval=Interval(0.1, 0.07, math.inf),
)


TESTED = replace(
    RAMP_1,
    tested=frozenset({"error_rate", "shadow:latency_p95"}),
    carried={"requests": 600, "errors": 7, "baseline_requests": 59000, "baseline_errors": 590},
)


def promote(state: RolloutState) -> Decision:
    return Decision("promote", (f"to {state.weight * 100:g}%",), (), state)


def roll_back(before: RolloutState) -> Decision:
    after = replace(before, phase="rolled_back", weight=0.0, since=before.since + 60)
    return Decision("roll_back", ("error_rate failed 2 looks",), (ERROR_GATE,), after)


async def test_promote_writes_the_proxy_fields_and_the_controllers(store: Store) -> None:
    async with store.notifications.subscribe(CHANGES_CHANNEL) as sub:
        assert await sub.wait_subscribed(2.0)
        assert await apply(store, NAME, VERSION, promote(RAMP_1)) is True
        message = await asyncio.wait_for(anext(aiter(sub)), 2.0)
    assert message == {"key": KEY}
    doc, _ = await store.documents.read(KEY)
    live = state_from_doc(doc, VERSION, initial_state(0.5, False))
    assert (live.weight, live.max_weight, live.killed, live.epoch) == (0.01, 0.01, False, 0)
    assert controller_state(doc, VERSION) == RAMP_1
    [entry] = await store.audit.read(NAME)
    assert entry["action"] == "promote"
    assert entry["before"]["phase"] is None and entry["after"]["phase"] == "ramping"
    assert (entry["before"]["weight"], entry["after"]["weight"]) == (0.0, 0.01)


async def test_the_same_decision_twice_changes_nothing(store: Store) -> None:
    assert await apply(store, NAME, VERSION, promote(RAMP_1)) is True
    _, rev = await store.documents.read(KEY)
    assert await apply(store, NAME, VERSION, promote(RAMP_1)) is False
    assert (await store.documents.read(KEY))[1] == rev
    assert len(await store.audit.read(NAME)) == 1


async def test_rollback_bumps_the_epoch_and_clears_only_the_old_scope(store: Store) -> None:
    await apply(store, NAME, VERSION, promote(RAMP_1))
    await apply(store, NAME, VERSION, promote(RAMP_5))
    old_scope = f"{NAME}:{VERSION}:0"
    await store.assignments.put_arms(old_scope, {"alice": "candidate"}, 60)
    await store.assignments.put_arms("other:v9:0", {"bob": "candidate"}, 60)

    assert await apply(store, NAME, VERSION, roll_back(RAMP_5)) is True
    assert await apply(store, NAME, VERSION, roll_back(RAMP_5)) is False  # epoch bumped once

    doc, _ = await store.documents.read(KEY)
    assert {k: doc[k] for k in ("weight", "max_weight", "epoch", "phase")} == {
        "weight": 0.0,
        "max_weight": 0.0,
        "epoch": 1,
        "phase": "rolled_back",
    }
    assert await store.assignments.get_arms(old_scope, ["alice"]) == {}
    assert await store.assignments.get_arms("other:v9:0", ["bob"]) == {"bob": "candidate"}
    entry = (await store.audit.read(NAME))[-1]
    assert entry["action"] == "roll_back" and entry["reason"] == "error_rate failed 2 looks"
    assert (entry["before"]["weight"], entry["after"]["weight"]) == (0.05, 0.0)
    assert (entry["before"]["epoch"], entry["after"]["epoch"]) == (0, 1)
    [gate] = entry["gates"]
    assert (gate["verdict"], gate["candidate"], gate["samples"]) == ("fail", 0.1, [1000, 1000])
    assert gate["rollback_interval"] == {"value": 0.1, "low": 0.07, "high": None}  # inf: unbounded
    assert len(await store.audit.read(NAME)) == 3


async def test_keeps_the_kill_switch_and_fields_it_does_not_own(store: Store) -> None:
    base = {"version": VERSION, "weight": 0.0, "killed": True, "epoch": 3, "note": "incident 42"}
    assert await store.documents.write(KEY, base, 0) == 1
    await apply(store, NAME, VERSION, promote(RAMP_1))
    doc, _ = await store.documents.read(KEY)
    kept = (doc["killed"], doc["epoch"], doc["note"], doc["weight"])
    assert kept == (True, 3, "incident 42", 0.01)


async def test_a_document_of_another_version_is_replaced(store: Store) -> None:
    old = {"version": "v0", "weight": 0.5, "max_weight": 0.5, "killed": False, "epoch": 4}
    await store.documents.write(KEY, old | {"phase": "baking", "stage": 4, "note": "old"}, 0)
    await apply(store, NAME, VERSION, promote(RAMP_1), default=initial_state(0.2, False))
    doc, _ = await store.documents.read(KEY)
    fresh = (doc["version"], doc["epoch"], doc["weight"], doc["max_weight"])
    assert fresh == (VERSION, 0, 0.01, 0.2)  # max_weight: the default's reach was served
    assert "note" not in doc and controller_state(doc, VERSION) == RAMP_1


@pytest.mark.parametrize(
    ("change", "written"),
    [
        ({}, False),
        ({"failures": {"error_rate": 0, "latency_p95": 0}}, False),  # a quiet look
        ({"failures": {"error_rate": 1}}, True),  # a failing look is recorded (and audited)
        ({"approvals": frozenset({"stage:50"})}, True),
        ({"phase": "paused"}, True),
    ],
)
async def test_what_counts_as_a_change(store: Store, change: dict, written: bool) -> None:
    await apply(store, NAME, VERSION, promote(RAMP_1))
    hold = Decision("hold", ("looked",), (), replace(RAMP_1, **change))
    assert await apply(store, NAME, VERSION, hold) is written
    assert len(await store.audit.read(NAME)) == 1 + written


@pytest.mark.parametrize(
    "bad",
    [
        {"failures": {"error_rate": -1}},
        {"failures": ["error_rate"]},
        {"approvals": "stage:50"},
        {"stage": 1.5},
        {"since": "yesterday"},
        {"awaiting": 50},
        {"tested": "error_rate"},
        {"tested": [1]},
        {"carried": {"requests": -1}},
        {"carried": [600]},
        {"weight": 5},  # a percent where a fraction belongs
    ],
)
def test_a_malformed_controller_state_is_refused(bad: dict) -> None:
    doc = {"version": VERSION, "weight": 0.01} | controller_fields(RAMP_1) | bad
    with pytest.raises(ValueError):
        controller_state(doc, VERSION)


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (None, None),
        ({"version": "v0", "weight": 0.01, **controller_fields(RAMP_1)}, None),
        ({"version": VERSION, "weight": 0.3}, None),  # written by hand before any controller
        ({"version": VERSION, "weight": 0.01, **controller_fields(RAMP_1)}, RAMP_1),
        (  # the gates whose regression test was made survive a restart
            {"version": VERSION, "weight": 0.01, **controller_fields(TESTED)},
            TESTED,
        ),
    ],
)
def test_the_controller_state_of_a_document(doc: dict | None, expected: RolloutState) -> None:
    assert controller_state(doc, VERSION) == expected


async def test_a_weight_outside_0_to_1_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="fraction"):
        await apply(store, NAME, VERSION, promote(replace(RAMP_1, weight=5.0)))
    assert (await store.documents.read(KEY))[0] is None
