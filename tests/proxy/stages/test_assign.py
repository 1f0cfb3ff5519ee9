"""The assign stage: every way an arm is chosen, against a real (embedded) store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import make_mocked_request

from proxy.cohorts.compiled import compile_rollout
from proxy.cohorts.runtime import Runtime
from proxy.exchange import Exchange
from proxy.stages.assign import Assign
from rollout.config.rollouts import Rollout
from rollout.control.live_state import LiveState
from rollout.store import open_store
from rollout.targeting.cohorts import bucket
from rollout.targeting.flags import FlagSet

# Subjects with known buckets under salt "r" (rollout/targeting/cohorts.py; fixed values).
SUBJECTS = {f"user-{i}": bucket("r", f"user-{i}") for i in range(200)}


def _subject_between(low: float, high: float) -> str:
    return next(s for s, b in SUBJECTS.items() if low <= b < high)


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    rollout = Rollout.model_validate(
        {
            "name": "r",
            "weight": 0.3,
            "candidate": {"model": "new"},
            "overrides": [{"match": {"headers": {"x-internal": "true"}}, "arm": "candidate"}],
        }
    )
    store = open_store(None, tmp_path / "data")
    runtime = Runtime([compile_rollout(rollout, {})], FlagSet([]), store)
    yield runtime
    await store.close()


async def _assign(runtime: Runtime, subject: str | None, **fields: Any) -> Exchange:
    headers = fields.pop("headers", {})
    ex = Exchange(make_mocked_request("POST", "/v1/chat/completions", headers=headers), [])
    ex.governing = runtime.rollouts["r"]
    ex.subject = subject
    for name, value in fields.items():
        setattr(ex, name, value)
    await Assign(runtime)(ex)
    return ex


@pytest.mark.parametrize(
    ("state", "subject_range", "fields", "expected"),
    [
        (LiveState(0.3, 0.3, False, 0), (0.0, 0.3), {}, ("candidate", "hash")),
        (LiveState(0.3, 0.3, False, 0), (0.3, 1.0), {}, ("baseline", "hash")),
        (LiveState(0.3, 0.3, True, 0), (0.0, 0.3), {}, ("baseline", "killed")),
        (
            LiveState(0.3, 0.3, True, 0),
            (0.0, 0.3),
            {"forced_arm": "candidate"},
            ("baseline", "killed"),
        ),
        (
            LiveState(0.3, 0.3, False, 0),
            (0.0, 0.3),
            {"forced_arm": "baseline"},
            ("baseline", "flag"),
        ),
        (
            LiveState(0.0, 0.0, False, 0),
            (0.5, 1.0),
            {"headers": {"x-internal": "true"}},
            ("candidate", "override"),
        ),
        (LiveState(1.0, 1.0, False, 0), None, {}, ("candidate", "random")),
        (LiveState(0.0, 0.0, False, 0), None, {}, ("baseline", "random")),
    ],
)
async def test_arm_and_reason(
    runtime: Runtime,
    state: LiveState,
    subject_range: tuple[float, float] | None,
    fields: dict[str, Any],
    expected: tuple[str, str],
) -> None:
    runtime.states["r"] = state
    subject = _subject_between(*subject_range) if subject_range else None
    ex = await _assign(runtime, subject, **fields)
    assert (ex.arm, ex.assigned_by) == expected


async def test_candidate_stays_candidate_when_the_weight_comes_down(runtime: Runtime) -> None:
    subject = _subject_between(0.3, 0.6)
    runtime.states["r"] = LiveState(0.6, 0.6, False, 0)
    assert (await _assign(runtime, subject)).arm == "candidate"
    await runtime.sticky.flush()  # written to the store
    runtime.sticky.forget(set())  # and forgotten locally: as on another replica
    runtime.states["r"] = LiveState(0.3, 0.6, False, 0)
    ex = await _assign(runtime, subject)
    assert (ex.arm, ex.assigned_by) == ("candidate", "sticky")
    newcomer = next(
        s for s, b in SUBJECTS.items() if 0.3 <= b < 0.6 and s != subject
    )  # never seen at 0.6: the weight coming down does not add it
    assert (await _assign(runtime, newcomer)).arm == "baseline"


async def test_a_new_epoch_forgets_stickiness(runtime: Runtime) -> None:
    subject = _subject_between(0.3, 0.6)
    runtime.states["r"] = LiveState(0.6, 0.6, False, 0)
    await _assign(runtime, subject)
    await runtime.sticky.flush()
    runtime.states["r"] = LiveState(0.3, 0.6, False, 1)  # rolled back, ramped again
    assert (await _assign(runtime, subject)).arm == "baseline"


async def test_returning_subjects_make_no_store_calls(runtime: Runtime) -> None:
    calls: list[str] = []
    inner = runtime.sticky.assignments

    class Counting:
        async def get_arms(self, scope: str, subjects: list[str]) -> dict[str, str]:
            calls.append("get")
            return await inner.get_arms(scope, subjects)

        async def put_arms(self, scope: str, arms: dict[str, str], ttl: float) -> None:
            calls.append("put")
            await inner.put_arms(scope, arms, ttl)

    runtime.sticky.assignments = Counting()  # type: ignore[assignment]
    runtime.states["r"] = LiveState(0.3, 0.6, False, 0)
    in_between = sum(0.3 <= b < 0.6 for b in SUBJECTS.values())
    after_round: list[list[str]] = []
    for _ in range(3):
        for subject in SUBJECTS:
            await _assign(runtime, subject)
        await runtime.sticky.flush()
        after_round.append(list(calls))
    # First round: one put (the new candidates) and one lookup per subject in [0.3, 0.6) (they
    # came one by one); later rounds: not a single store call.
    assert after_round[0].count("put") == 1
    assert after_round[0].count("get") == in_between > 0
    assert after_round[2] == after_round[0]
