"""Watching an end-to-end rollout from outside, as an operator would: its phase, audit log and
config through the admin API, and which arm each replica served from the answers' model."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Collection, Sequence
from typing import Any

import aiohttp

from rollout.control.notices import decisions
from tests.support.proxy_process import ProxyProcess, admin_call, rollout_state
from tests.support.subject_load import Answer


async def audit(proc: ProxyProcess, rollout: str) -> list[dict[str, Any]]:
    """The rollout's decisions, oldest first: without the controller's notices (a long hold —
    these plans' 2 s stages on busy cores may hold 3 x that long —, a gate nearing its bound),
    which change nothing and are tested in tests/rollout/control/test_controller_look.py."""
    entries = (await admin_call("", proc, f"/v1/audit?rollout={rollout}&limit=1000"))["entries"]
    return decisions(entries)


async def config_status(admin_url: str) -> dict[str, Any]:
    """What a process's GET /v1/config answers: the config hash it runs, its last reload."""
    async with aiohttp.ClientSession() as http, http.get(admin_url + "/v1/config") as response:
        assert response.status == 200, await response.text()
        return await response.json()


def story(entries: Sequence[dict[str, Any]]) -> list[str]:
    """One line per entry, for failure messages."""
    return [
        f"{e['action']} {e['before'].get('weight')}->{e['after'].get('weight')}"
        f" {e['after'].get('phase')}: {e.get('reason')}"
        for e in entries
    ]


async def wait_phase(
    proc: ProxyProcess, rollout: str, phases: Collection[str], seconds: float
) -> dict[str, Any]:
    """Poll the admin API until the rollout is in one of `phases`; its state then."""
    deadline = time.monotonic() + seconds
    while True:
        state = await rollout_state(proc, rollout)
        if state.get("phase") in phases:
            return state
        if time.monotonic() > deadline:
            lines = "\n".join(story(await audit(proc, rollout)))
            raise AssertionError(
                f"{rollout} not {'/'.join(phases)} in {seconds:g} s: {state}\n{lines}"
            )
        await asyncio.sleep(0.1)


async def wait_entry(
    proc: ProxyProcess, rollout: str, seconds: float, **want: Any
) -> dict[str, Any]:
    """Poll the audit until an entry with the `want`ed fields is there (`weight` is the weight
    after it); the first such entry."""
    deadline = time.monotonic() + seconds

    def matches(entry: dict[str, Any]) -> bool:
        fields = {**entry, "weight": entry["after"].get("weight")}
        return all(fields.get(k) == v for k, v in want.items())

    while True:
        entries = await audit(proc, rollout)
        found = [e for e in entries if matches(e)]
        if found:
            return found[0]
        lines = "\n".join(story(entries))
        assert time.monotonic() < deadline, f"no {want} for {rollout} in {seconds:g} s:\n{lines}"
        await asyncio.sleep(0.1)


def promoted_to(entries: Sequence[dict[str, Any]]) -> list[float]:
    """The weight each promote entered, in order."""
    return [e["after"]["weight"] for e in entries if e["action"] == "promote"]


def controller_pid(entry: dict[str, Any]) -> int:
    """The process of the controller that wrote a decision's entry (ids are host:pid:random)."""
    return int(entry["controller"].split(":")[1])


def assert_one_writer(entries: Sequence[dict[str, Any]]) -> None:
    """Every entry starts from the state the one before it left: no decision was made twice, and
    none from a state another controller had already changed."""
    for before, entry in itertools.pairwise(entries):
        left = {k: before["after"][k] for k in ("phase", "stage", "weight")}
        found = {k: entry["before"][k] for k in ("phase", "stage", "weight")}
        assert found == left, f"{entry['action']} from {found}, but the state was {left}"


def is_baseline(answer: Answer, baseline_model: str) -> bool:
    return answer.status == 200 and answer.model == baseline_model


def baseline_everywhere_at(
    answers: Sequence[Answer],
    replicas: Sequence[str],
    subjects: Collection[str],
    baseline_model: str,
) -> float:
    """When every replica served `subjects` (the candidate's) the baseline only, at the latest.

    Per replica: after its last answer that was not the baseline (by the time it was sent), the
    first answer that follows was assigned at the latest when it was received, and the replica
    served the baseline from then on. The latest of these over the replicas; an upper bound."""
    moments = []
    for replica in replicas:
        mine = sorted(
            (a for a in answers if a.replica == replica and a.subject in subjects),
            key=lambda a: a.sent,
        )
        others = [i for i, a in enumerate(mine) if not is_baseline(a, baseline_model)]
        assert others, f"{replica} never served the candidate to its subjects"
        after = mine[others[-1] + 1 :]
        assert after, f"{replica} served the candidate until its last answer"
        moments.append(after[0].received)
    return max(moments)
