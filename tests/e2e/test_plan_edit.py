"""A plan edited in the config file while a rollout ramps: two `rollout serve` replicas and a
`rollout controller` process on one real Redis, each following its config file (polled every
0.5 s), calls from the official openai SDK.

The rollout holds at 50% (that stage asks for an hour) until the file is swapped for a plan with
new stages, 25% and 75%: every process takes it, the leading controller audits the edit once and
maps the 50% weight onto the new list (stage 1 -> 2), and the ramp goes on to 75%, a stage the
old plan did not have. An edit that ends the stages at 90 is then refused by every process with
`file: key.path: reason (got value)`, and the ramp goes from 75% to 100%, as the plan in use
says, not to 90%.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.e2e.fleet import ERRORS, Case, Fleet, plan, redis_fleet, subjects_by_stage
from tests.e2e.watch import (
    assert_one_writer,
    audit,
    config_status,
    controller_pid,
    promoted_to,
    story,
    wait_entry,
    wait_phase,
)
from tests.support.proxy_process import metric_sum, scrape, wait_rollout_state
from tests.support.redis_server import RedisServer
from tests.support.subject_load import SubjectLoad

ENDS = ("complete", "rolled_back")
# The first plan holds at 50% (an hour). The edited one asks the usual 2 s there, already past,
# then holds 6 s at 75%: long enough for the bad edit to reach every process before the next
# decision, which shows whether it was taken (to 90%) or not (to 100%).
FIRST = Case("edit", f"[{ERRORS}]", plan=plan("[10, {percent: 50, min_duration: 3600}, 100]"))
EDITED = replace(FIRST, plan=plan("[10, 25, 50, {percent: 75, min_duration: 6}, 100]"))
BROKEN = replace(FIRST, plan=plan("[10, 25, 50, 75, 90]"))
CHANGE = "rollout edit: plan changed (stages 10,50,100 -> 10,25,50,75,100)"
PROBLEM = (
    "rollouts[0].plan.stages: the last stage must be 100 (the ramp ends with everyone on it)"
    " (got [10, 25, 50, 75, 90])"
)

Statuses = dict[int, dict[str, Any]]  # GET /v1/config's answer, by pid


@pytest.fixture
def fleet(redis_server: RedisServer, tmp_path: Path) -> Iterator[Fleet]:
    with redis_fleet(redis_server, [FIRST], tmp_path, standalone=True) as fleet:
        yield fleet
        for replica in fleet.replicas:
            replica.assert_alive()
        assert fleet.controller is not None and fleet.controller.process.poll() is None


async def configs_when(
    fleet: Fleet, done: Callable[[int, dict[str, Any]], bool], seconds: float
) -> Statuses:
    """Poll every process's GET /v1/config until `done(pid, answer)` holds for each of them;
    their answers then."""
    deadline = time.monotonic() + seconds
    while True:
        members, found = fleet.members(), {}
        for pid, member in members.items():
            try:
                found[pid] = await config_status(member.admin_url)
            except aiohttp.ClientError:  # the controller process may still be starting
                continue
        if len(found) == len(members) and all(done(p, s) for p, s in found.items()):
            return found
        assert time.monotonic() < deadline, f"not every process got there: {found}"
        await asyncio.sleep(0.1)


async def test_a_plan_edited_mid_ramp_keeps_its_progress_and_a_bad_edit_changes_nothing(
    fleet: Fleet,
) -> None:
    a, name = fleet.replicas[0], FIRST.name
    async with SubjectLoad(FIRST.ask, fleet.urls, subjects_by_stage(name)) as load:
        await wait_entry(a, name, 30, action="promote", weight=0.5)
        first = await configs_when(fleet, lambda _p, _s: True, 10)
        fleet.rewrite([EDITED])
        edited = await configs_when(
            fleet, lambda p, s: s["config_hash"] != first[p]["config_hash"], 10
        )
        at_75 = await wait_entry(a, name, 10, action="promote", weight=0.75)
        for replica in fleet.replicas:  # both serve the new stage's share
            await wait_rollout_state(replica, name, weight=0.75)

        fleet.rewrite([BROKEN])
        refused = await configs_when(fleet, lambda _p, s: s["last_error"] != [], 10)
        held = (await audit(a, name))[-1]  # the 75% stage still runs: 6 s, from `at_75`
        state = await wait_phase(a, name, ENDS, 30)

    # Every process took the edit, once, and then refused the bad one, keeping the edit.
    for pid, member in fleet.members().items():
        reload = edited[pid]["last_reload"]
        assert (reload["ok"], reload["trigger"], reload["changes"]) == (True, "file", [CHANGE])
        kept, problem = edited[pid]["config_hash"], f"{member.config_path}: {PROBLEM}"
        assert refused[pid]["file"] == str(member.config_path)
        assert (refused[pid]["config_hash"], refused[pid]["last_error"]) == (kept, [problem])
        metrics = scrape(member.admin_url)
        assert metric_sum(metrics, "llm_rollout_config_reload_problem", problem=problem) == 1
        assert metric_sum(metrics, "llm_rollout_config_info", hash=kept) == 1
        # One reload per edit: the file was read once it stood still, not on every poll.
        assert metric_sum(metrics, "llm_rollout_config_reloads_total", result="ok") == 1
        assert metric_sum(metrics, "llm_rollout_config_reloads_total", result="error") == 1
        said = member.log_path.read_text(errors="replace")
        assert f"config reload (file) refused, still running config {kept}:\n{problem}" in said

    entries = await audit(a, name)
    actions = ["promote", "promote", "config_reload", "promote", "promote", "complete"]
    assert [e["action"] for e in entries] == actions, "\n".join(story(entries))
    assert state["phase"] == "complete"
    assert held == at_75  # the bad edit reached every process before the next decision
    # The ramp went on from 50% through the new stages: 75% was not in the first plan, and 90%
    # (the bad edit's) was never entered.
    assert promoted_to(entries) == [0.1, 0.5, 0.75, 1.0]
    before, edit, after = entries[:2], entries[2], entries[3:]
    assert edit["actor"] == "config"
    assert edit["reason"] == (
        "plan edited in config: stages 10,50,100 -> 10,25,50,75,100; stage 1 -> 2 (weight 0.5 kept)"
    )
    stages = [[s["percent"] for s in edit[side]["plan"]["stages"]] for side in ("before", "after")]
    assert stages == [[10, 50, 100], [10, 25, 50, 75, 100]]
    assert (edit["before"]["stage"], edit["after"]["stage"]) == (1, 2)
    assert edit["before"]["phase"] == edit["after"]["phase"] == "ramping"
    assert edit["config_hash"] in {s["config_hash"] for s in edited.values()}
    # Progress kept: the next promote starts from the 50% weight, at its place in the new list.
    assert {k: after[0]["before"][k] for k in ("stage", "weight")} == {"stage": 2, "weight": 0.5}
    assert after[0]["after"]["stage"] == 3
    assert_one_writer(before)
    assert_one_writer(after)
    # Each decision names the config it was made under: the deciding process's, before or after.
    for entry in before:
        assert entry["config_hash"] == first[controller_pid(entry)]["config_hash"]
    for entry in after:
        assert entry["config_hash"] == edited[controller_pid(entry)]["config_hash"]
    assert {answer.status for answer in load.answers} == {200}
