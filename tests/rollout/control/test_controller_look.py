"""The controller says why it waits: the look document it keeps in the store, a gate flagged
unobservable, and a hold past `plan.hold_warning_factor` logged and audited once, across a
restart. On the embedded store and a real Redis, with an injectable clock."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import REGISTRY

from rollout.config.plan import Plan
from rollout.config.rollouts import Rollout
from rollout.control.controller import Controller
from rollout.control.look import look_key
from rollout.store import Store
from tests.rollout.control.test_controller import INTERVAL, PLAN_FIELDS, Clock, traffic

# It holds on its minimum of requests: 100 a look, 5000 wanted. The stage's minimum duration is
# one interval, so the hold is "too long" after 3 intervals.
HELD = Rollout.model_validate(
    {
        "name": "held",
        "candidate": {"model": "m2"},
        "plan": Plan(**PLAN_FIELDS | {"min_requests": 5000}, regression_test=None),
    }
)
JSON = Rollout.model_validate(
    {
        "name": "json",
        "candidate": {"model": "m2"},
        "plan": Plan(
            **PLAN_FIELDS,
            regression_test=None,
            gates=[{"metric": "json_validity", "min": 0.9}, {"metric": "error_rate", "max": 0.5}],
        ),
    }
)


async def looks(ctl: Controller, clock: Clock, rollout: Rollout, n: int, step: float) -> None:
    for _ in range(n):
        await ctl.step()
        await traffic(ctl.store, clock.now, None, n=100, rollout=rollout.name)
        clock.now += step


async def test_the_look_document_says_what_each_gate_needs(store: Store) -> None:
    clock = Clock()
    await looks(Controller(store, [HELD], clock), clock, HELD, 3, INTERVAL)
    doc, _ = await store.documents.read(look_key(HELD.name))
    assert doc is not None
    assert (doc["version"], doc["action"], doc["phase"]) == (HELD.version, "hold", "ramping")
    assert doc["candidate"] == {"requests": 200, "seconds": 20.0, "per_minute": 600.0}
    gates = {g["gate"]: g for g in doc["gates"]}
    # No error in 200 calls of each arm: not yet shown within +1 point; how much more, at 600/min
    errors = gates["error_rate"]
    assert (errors["verdict"], errors["samples"]) == ("inconclusive", [200, 200])
    needs = errors["needs"]
    assert needs["note"] == "to pass" and needs["requests"] > 0
    assert needs["minutes"] == pytest.approx(needs["requests"] / 600, rel=0.05)
    assert doc["hold"] is None
    assert "200 of 5000 candidate requests" in doc["reasons"]


async def test_steady_looks_write_seldom(store: Store) -> None:
    """Written when what a reader acts on moves by a significant digit, not at every look."""
    clock = Clock()
    await looks(Controller(store, [HELD], clock), clock, HELD, 25, INTERVAL)
    doc, rev = await store.documents.read(look_key(HELD.name))
    assert rev <= 10, rev  # 25 looks
    assert doc["hold"] is not None  # the warning was written at once


async def test_a_long_hold_is_audited_once(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    caplog.set_level(logging.WARNING, "rollout.control.look_keeper")
    await looks(Controller(store, [HELD], clock), clock, HELD, 8, INTERVAL)
    # a restarted controller does not say it again: the look document remembers
    await looks(Controller(store, [HELD], clock), clock, HELD, 3, INTERVAL)
    entries = [e for e in await store.audit.read(HELD.name) if e["action"] == "hold_too_long"]
    assert len(entries) == 1, entries
    entry = entries[0]
    assert entry["hold"]["factor"] == 3.0 and entry["hold"]["minimum_seconds"] == INTERVAL
    assert entry["hold"]["held_seconds"] > 3 * INTERVAL
    assert entry["reason"].startswith("held 1 min at 1%, more than 3 x the minimum 10s: ")
    assert "of 5000 candidate requests" in entry["reason"]
    assert {g["gate"] for g in entry["gates"]} == {"error_rate", "latency_p95", "refusal_rate"}
    warned = [r for r in caplog.records if "more than 3 x the minimum" in r.getMessage()]
    assert len(warned) == 1
    doc, _ = await store.documents.read(look_key(HELD.name))
    assert doc["hold"]["since"] == entry["hold"]["since"]


async def test_a_gate_without_data_is_flagged_unobservable(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """No JSON-mode call in 10 minutes of candidate traffic: the JSON gate can never decide."""
    clock = Clock()
    caplog.set_level(logging.WARNING, "rollout.control.look_keeper")
    await looks(Controller(store, [JSON], clock), clock, JSON, 6, 150.0)
    doc, _ = await store.documents.read(look_key(JSON.name))
    gate = next(g for g in doc["gates"] if g["gate"] == "json_validity")
    assert gate["verdict"] == "no_data"
    assert gate["unobservable"] == (
        "0 samples in 400 candidate requests over 10 min: no candidate request asked for JSON"
        " output (response_format)"
    )
    flag = {"rollout": JSON.name, "gate": "json_validity"}
    assert REGISTRY.get_sample_value("llm_rollout_gate_unobservable", flag) == 1.0
    said = [r for r in caplog.records if "json_validity is unobservable" in r.getMessage()]
    assert len(said) == 1


async def test_a_gate_nearing_its_bound_is_told_once_per_stage(store: Store) -> None:
    """No errors on the baseline, 0.9% on the candidate: not shown past a 1-point bound, with
    an estimate past 80% of it."""
    clock = Clock()
    ctl = Controller(store, [HELD], clock)
    for _ in range(12):
        await ctl.step()
        await traffic(store, clock.now, 110, n=1000, rollout=HELD.name)
        clock.now += INTERVAL
    entries = [e for e in await store.audit.read(HELD.name) if e["action"] == "gate_approaching"]
    assert [e["gate"] for e in entries] == ["error_rate"], entries
    doc, _ = await store.documents.read(look_key(HELD.name))
    assert doc["approaching"] == ["error_rate"]
