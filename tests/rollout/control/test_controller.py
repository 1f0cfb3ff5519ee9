"""The controller end to end on the store: synthetic metric windows in, state documents and audit
entries out. Runs against the embedded store and a real Redis, with an injectable clock."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest

from rollout.config import Config, load_config
from rollout.config.changes import CONTROLLER_RESTART_ONLY
from rollout.config.plan import Plan, Stage
from rollout.config.reloader import ConfigReloader
from rollout.config.rollouts import Rollout
from rollout.control.controller import Controller, current_state
from rollout.control.live_state import state_key
from rollout.control.windows import CallSample, WindowAggregator
from rollout.errors import StoreError
from rollout.store import Store, open_store

T0 = 1_000_000.0  # a multiple of the bucket size: one look's traffic fills one bucket
INTERVAL = 10.0
PLAN_FIELDS = {
    "automatic": True,
    "min_duration": INTERVAL,
    "min_requests": 500,
    "evaluation_interval": INTERVAL,
    "bake_time": 10,
}
PLAN = Plan(
    **PLAN_FIELDS,
    # Breaches only: these tests count failing looks in a row. The first stage's regression
    # test and the gross-regression rule, which would fail a 10%-error candidate against a
    # baseline without errors at its first look, have their own tests.
    regression_test=None,
    gross_regression=None,
)
ROLLOUT = Rollout.model_validate({"name": "summarise", "candidate": {"model": "m2"}, "plan": PLAN})
KEY = state_key(ROLLOUT.name)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


async def traffic(
    store: Store, start: float, error_every: int | None, n: int = 1000, rollout: str = ROLLOUT.name
) -> None:
    """`n` calls per arm over one interval; the candidate fails one call in `error_every`. At
    100% there is no baseline left to call."""
    doc, _ = await store.documents.read(state_key(rollout))
    arms = ["candidate"] if doc and doc["weight"] >= 1.0 else ["baseline", "candidate"]
    agg = WindowAggregator(bucket_seconds=int(INTERVAL))
    for i in range(n):
        for arm in arms:
            fails = arm == "candidate" and error_every is not None and i % error_every == 0
            error = "upstream_5xx" if fails else None
            sample = CallSample(duration=0.5 + (i % 100) / 100, error=error)
            agg.add(rollout, arm, "live", sample, start + i * INTERVAL / n)
    for (name, bucket), fields in agg.drain().items():
        await store.metrics.add(name, bucket, fields)


async def ramp(ctl: Controller, clock: Clock, error_every: int | None, looks: int) -> list[Any]:
    """Look, send one interval of traffic, move the clock on; (action, weight) per look."""
    seen = []
    for _ in range(looks):
        decision = (await ctl.step())[ROLLOUT.name]
        seen.append((decision.action, decision.state.weight))
        if decision.state.phase in ("complete", "rolled_back"):
            break
        await traffic(ctl.store, clock.now, error_every)
        clock.now += INTERVAL
    return seen


@pytest.mark.parametrize(
    ("error_every", "expected"),
    [
        (  # as good as the baseline: stage by stage to 100, baked, complete
            None,
            [
                ("promote", 0.01),
                ("promote", 0.05),
                ("promote", 0.25),
                ("promote", 0.5),
                ("promote", 1.0),
                ("complete", 1.0),
            ],
        ),
        # 10% errors: the first failing look holds, the second rolls back
        (10, [("promote", 0.01), ("hold", 0.01), ("roll_back", 0.0)]),
        # every call failing: rolled back on the first look, no second look needed
        (1, [("promote", 0.01), ("roll_back", 0.0)]),
    ],
    ids=["good", "errors", "catastrophe"],
)
async def test_a_ramp(store: Store, error_every: int | None, expected: list[Any]) -> None:
    clock = Clock()
    assert await ramp(Controller(store, [ROLLOUT], clock), clock, error_every, 10) == expected
    doc, _ = await store.documents.read(KEY)
    entries = await store.audit.read(ROLLOUT.name)
    assert [e["action"] for e in entries] == [action for action, _ in expected]
    assert (doc["weight"], doc["phase"]) == (expected[-1][1], entries[-1]["after"]["phase"])
    assert doc["epoch"] == (1 if expected[-1][0] == "roll_back" else 0)


async def test_a_rollback_says_why_with_numbers(store: Store) -> None:
    clock = Clock()
    await ramp(Controller(store, [ROLLOUT], clock), clock, 10, 10)
    entry = (await store.audit.read(ROLLOUT.name))[-1]
    assert entry["action"] == "roll_back"
    assert entry["reason"].startswith("error_rate failed 2 looks: candidate - baseline error_rate")
    gate = next(g for g in entry["gates"] if g["gate"] == "error_rate")
    assert (gate["verdict"], gate["candidate"], gate["baseline"]) == ("fail", 0.1, 0.0)
    assert gate["samples"] == [2000, 2000] and gate["rollback_interval"]["low"] > 0.01
    assert entry["version"] == ROLLOUT.version


async def test_the_first_stages_regression_test_rolls_back_at_its_one_look(store: Store) -> None:
    # 2% errors against none: not shown past +1 pp at 99% on 1000 requests (a breach needs
    # about twice that), but shown worse than the baseline, with its estimate past the bound.
    tested = Rollout.model_validate(
        {"name": ROLLOUT.name, "candidate": {"model": "m2"}, "plan": {**PLAN_FIELDS}}
    )
    clock = Clock()
    seen = await ramp(Controller(store, [tested], clock), clock, 50, 10)
    assert seen == [("promote", 0.01), ("roll_back", 0.0)]
    entry = (await store.audit.read(ROLLOUT.name))[-1]
    assert entry["reason"].startswith(
        "error_rate: regression test at 1000 candidate requests: error_rate worse than the"
        " baseline (errors: candidate 20/1000, baseline 0/1000; p = 8.7e-07 <= 0.0036"
    )
    gate = next(g for g in entry["gates"] if g["gate"] == "error_rate")
    assert gate["verdict"] == "fail" and gate["rollback_interval"]["low"] < 0.01
    doc, _ = await store.documents.read(KEY)
    assert doc["tested"] == ["error_rate", "latency_p95", "refusal_rate"]


async def test_a_new_controller_resumes_where_the_old_one_stopped(store: Store) -> None:
    clock = Clock()
    first = Controller(store, [ROLLOUT], clock, owner="first")
    assert await ramp(first, clock, None, 2) == [("promote", 0.01), ("promote", 0.05)]
    await first.close()
    # ramp() sent the 5% stage's traffic and moved the clock on: the next look promotes.
    second = Controller(store, [ROLLOUT], clock, owner="second")
    assert (await second.step())[ROLLOUT.name].state.weight == 0.25  # not back to 1%
    await second.close()
    # A third, at the same moment over the same window, decides what is already stored.
    decision = (await Controller(store, [ROLLOUT], clock, owner="third").step())[ROLLOUT.name]
    assert (decision.action, decision.state.weight) == ("hold", 0.25)
    assert len(await store.audit.read(ROLLOUT.name)) == 3


async def test_looks_once_per_evaluation_interval(store: Store) -> None:
    clock = Clock()
    ctl = Controller(store, [ROLLOUT], clock)
    assert ROLLOUT.name in await ctl.step()
    clock.now += INTERVAL - 1
    assert await ctl.step() == {}
    clock.now += 1
    assert ROLLOUT.name in await ctl.step()


@pytest.mark.parametrize("bucket_seconds", [1, 10])
async def test_the_window_starts_at_the_first_whole_bucket_of_the_stage(
    store: Store, bucket_seconds: int
) -> None:
    clock = Clock()
    clock.now = T0 + 0.5
    ctl = Controller(store, [ROLLOUT], clock, bucket_seconds=bucket_seconds)
    assert (await ctl.step())[ROLLOUT.name].action == "promote"  # the 1% stage since T0 + 0.5
    agg = WindowAggregator(bucket_seconds)
    for at, calls in ((T0 + 0.7, 7), (T0 + bucket_seconds + 0.1, 10)):  # straddling, then whole
        for _ in range(calls):
            agg.add(ROLLOUT.name, "candidate", "live", CallSample(duration=0.1), at)
    for (name, bucket), fields in agg.drain().items():
        await store.metrics.add(name, bucket, fields)
    clock.now = T0 + INTERVAL + 1
    decision = (await ctl.step())[ROLLOUT.name]
    assert "10 of 500 candidate requests" in decision.reasons
    entries = await store.audit.read(ROLLOUT.name)
    assert [e["controller"] for e in entries] == [ctl.owner]  # who acted, in the audit


async def test_an_unreadable_state_document_is_left_alone(store: Store) -> None:
    bad = {"version": ROLLOUT.version, "weight": 0.05, "phase": "ramping", "failures": "many"}
    await store.documents.write(KEY, bad, 0)
    assert await Controller(store, [ROLLOUT], Clock()).step() == {}
    assert await store.documents.read(KEY) == (bad, 1)


async def test_two_controllers_on_one_redis_only_the_leader_acts(
    redis_server: Any, tmp_path: Path
) -> None:
    prefix = f"t{uuid.uuid4().hex[:10]}:"
    stores = [
        open_store(redis_server.url, tmp_path, key_prefix=prefix, timeout=2.0) for _ in range(2)
    ]
    clock = Clock()
    a = Controller(stores[0], [ROLLOUT], clock, owner="a", lock_ttl=0.5)
    b = Controller(stores[1], [ROLLOUT], clock, owner="b", lock_ttl=0.5)
    try:
        acted = [await a.step(), await b.step()]
        assert [bool(d) for d in acted] == [True, False] and not b.is_leader
        assert len(await stores[0].audit.read(ROLLOUT.name)) == 1
        await asyncio.sleep(0.7)  # the leader died (stopped renewing): the lock runs out
        clock.now += INTERVAL
        assert ROLLOUT.name in await b.step()
        assert await a.step() == {} and not a.is_leader
    finally:
        for s in stores:
            await s.close()


class FlakyLeader:
    """The store's leader lock, failing the first `failures` calls as a down store does."""

    def __init__(self, inner: Any, failures: int) -> None:
        self.inner, self.failures, self.calls = inner, failures, 0

    async def acquire(self, name: str, owner: str, ttl_seconds: float) -> bool:
        self.calls += 1
        if self.calls <= self.failures:
            raise StoreError("store down")
        return await self.inner.acquire(name, owner, ttl_seconds)


async def test_run_survives_a_store_outage(tmp_path: Path) -> None:
    store = open_store(None, tmp_path)
    flaky = FlakyLeader(store.leader, failures=3)
    store.leader = flaky  # type: ignore[misc]
    task = asyncio.create_task(Controller(store, [ROLLOUT], Clock()).run(interval=0.01))
    try:
        for _ in range(200):
            if (await store.documents.read(KEY))[0] is not None:
                break
            await asyncio.sleep(0.01)
        assert not task.done() and flaky.calls > 3
        assert (await store.documents.read(KEY))[0]["weight"] == 0.01
    finally:
        task.cancel()
        await store.close()


@pytest.mark.parametrize(
    ("stages", "stored_stage", "weight", "expected"),
    [
        ([1, 5, 25, 50, 100], 2, 0.25, 2),  # unchanged plan: unchanged stage
        ([10, 50, 100], 2, 0.25, 0),  # edited: the highest new stage at or below 25%
        ([1, 25, 100], 3, 0.5, 1),  # the stored index is past the new list's end
        ([5, 100], 0, 0.0, 0),  # nothing served yet
    ],
)
def test_an_edited_stage_list_keeps_progress(
    stages: list[float], stored_stage: int, weight: float, expected: int
) -> None:
    doc = {"version": "v", "weight": weight, "phase": "ramping", "stage": stored_stage}
    assert current_state(doc, "v", Plan(stages=stages)).stage == expected


def test_a_fresh_version_starts_pending() -> None:
    doc = {"version": "old", "weight": 0.5, "phase": "baking", "stage": 4}
    assert current_state(doc, "new", PLAN).phase == "pending"


async def test_rollouts_without_an_automatic_plan_are_left_alone(store: Store) -> None:
    manual = Rollout.model_validate({"name": "by-hand", "weight": 0.5, "candidate": {"model": "x"}})
    ctl = Controller(store, [manual], clock=Clock())
    assert await ctl.step() == {}
    assert await store.documents.read(state_key("by-hand")) == (None, 0)


async def test_a_plan_edited_mid_ramp_keeps_progress_and_is_audited_once(store: Store) -> None:
    clock = Clock()
    ctl = Controller(store, [ROLLOUT], clock)
    assert await ramp(ctl, clock, None, 3) == [
        ("promote", 0.01),
        ("promote", 0.05),
        ("promote", 0.25),
    ]
    edited = ROLLOUT.model_copy(update={"plan": PLAN.model_copy(update={"stages": EDITED})})
    ctl.rollouts, ctl.config_hash = [edited], "c0ffee"
    # 25% maps onto the new list's 10% stage (the highest at or below it): the ramp goes on
    # from there, to 50%, and is not sent back to the start.
    decision = (await ctl.step())[ROLLOUT.name]
    assert (decision.action, decision.state.weight, decision.state.stage) == ("promote", 0.5, 1)
    entries = await store.audit.read(ROLLOUT.name)
    assert [e["action"] for e in entries] == ["promote"] * 3 + ["config_reload", "promote"]
    edit = entries[3]
    assert edit["reason"] == (
        "plan edited in config: stages 1,5,25,50,100 -> 10,50,100; stage 2 -> 0 (weight 0.25 kept)"
    )
    assert (edit["before"]["plan"]["stages"][2], edit["after"]["plan"]["stages"][0]) == (
        {"percent": 25.0, "min_duration": None, "min_requests": None, "min_subjects": None},
        {"percent": 10.0, "min_duration": None, "min_requests": None, "min_subjects": None},
    )
    assert (edit["before"]["stage"], edit["after"]["stage"], edit["config_hash"]) == (
        2,
        0,
        "c0ffee",
    )
    assert entries[4]["config_hash"] == "c0ffee"
    # Looked at again, or by a controller started afresh: the edit is not audited twice.
    await traffic(store, clock.now, None)
    clock.now += INTERVAL
    await ctl.step()
    await ctl.close()
    await Controller(store, [edited], clock, owner="next").step()
    actions = [e["action"] for e in await store.audit.read(ROLLOUT.name)]
    assert actions.count("config_reload") == 1


async def test_a_controller_on_an_older_config_file_does_not_undo_an_edit(store: Store) -> None:
    # Replica A has the edited file (modified at t=200), replica B still the old one (t=100),
    # as while a ConfigMap reaches the pods one by one; B leads after A.
    clock = Clock()
    old_ctl = Controller(store, [ROLLOUT], clock, owner="b")
    old_ctl.config_time = 100.0
    await ramp(old_ctl, clock, None, 3)  # 1, 5, 25%: the ramp started under the old plan
    await old_ctl.close()
    edited = ROLLOUT.model_copy(update={"plan": PLAN.model_copy(update={"stages": EDITED})})
    new_ctl = Controller(store, [edited], clock, owner="a")
    new_ctl.config_time = 200.0
    await traffic(store, clock.now, None)
    clock.now += INTERVAL
    assert (await new_ctl.step())[ROLLOUT.name].state.weight == 0.5
    await new_ctl.close()
    doc, _ = await store.documents.read(KEY)
    assert doc["plan_file_time"] == 200.0
    # B leads again, still on its old file: no decision, nothing written, no second audit.
    await traffic(store, clock.now, None)
    clock.now += INTERVAL
    assert await old_ctl.step() == {}
    assert (await store.documents.read(KEY))[0] == doc
    actions = [e["action"] for e in await store.audit.read(ROLLOUT.name)]
    assert actions == ["promote"] * 3 + ["config_reload", "promote"]
    # B's file then brings the edit (modified later on B's node): it goes on, no audit of it.
    old_ctl.rollouts, old_ctl.config_time = [edited], 230.0
    clock.now += INTERVAL
    await old_ctl.step()
    # And a deliberate revert to the old plan comes in a newer file: audited as an edit.
    await traffic(store, clock.now, None)
    old_ctl.rollouts, old_ctl.config_time = [ROLLOUT], 300.0
    clock.now += INTERVAL
    await old_ctl.step()
    actions = [e["action"] for e in await store.audit.read(ROLLOUT.name)]
    assert actions.count("config_reload") == 2
    assert (await store.documents.read(KEY))[0]["plan_file_time"] == 300.0


def test_load_config_records_the_file_time(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(PLAN_YAML)
    assert load_config(path).file_time == path.stat().st_mtime


EDITED = [Stage(percent=p) for p in (10, 50, 100)]
PLAN_YAML = """
providers: {p: {base_url: 'http://127.0.0.1:9/v1'}}
routes: [{prefix: /v1, provider: p}]
rollouts:
  - name: summarise
    candidate: {model: m2}
    plan:
      automatic: true
      min_duration: 10
      min_requests: 500
      evaluation_interval: 10
      bake_time: 10
      regression_test: null
      gross_regression: null
"""


async def test_an_invalid_plan_edit_is_rejected_and_the_old_plan_keeps_running(
    store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(PLAN_YAML)
    config = load_config(path)
    assert config.rollouts[0] == ROLLOUT
    clock = Clock()
    ctl = Controller(store, config.rollouts, clock)

    async def follow(new: Config) -> None:  # what `rollout controller` does with a reload
        ctl.rollouts = new.rollouts

    reloader = ConfigReloader(path, config, follow, restart_only=CONTROLLER_RESTART_ONLY)
    assert await ramp(ctl, clock, None, 2) == [("promote", 0.01), ("promote", 0.05)]
    path.write_text(PLAN_YAML + "      stages: [10, 5, 100]\n")
    result = await reloader.reload("file")
    assert [str(p) for p in result.problems] == [
        f"{path}: rollouts[0].plan.stages: percents must be strictly increasing (got [10, 5, 100])"
    ]
    assert ctl.rollouts == config.rollouts
    assert await ramp(ctl, clock, None, 1) == [("promote", 0.25)]  # the old stages, unchanged
    assert "config_reload" not in [e["action"] for e in await store.audit.read(ROLLOUT.name)]
