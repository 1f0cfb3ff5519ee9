"""The controller's metrics: the phase, each look's decision and every gate's verdict, set by
the leader only; a controller that stops leading takes its values back."""

from __future__ import annotations

import uuid

from prometheus_client import REGISTRY

from rollout.config.rollouts import Rollout
from rollout.control.controller import Controller
from rollout.control.controller_metrics import PHASES, ControllerMetrics
from rollout.control.decide import Decision, RolloutState
from rollout.store import Store
from tests.rollout.control.test_controller import INTERVAL, PLAN, Clock, traffic


def _value(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def _phases(rollout: str) -> dict[str, float | None]:
    return {p: _value("llm_rollout_phase", rollout=rollout, phase=p) for p in PHASES}


async def test_phase_decisions_and_gate_verdicts(store: Store) -> None:
    name = f"m{uuid.uuid4().hex[:8]}"  # the registry is the process's: a name of our own
    rollout = Rollout.model_validate({"name": name, "candidate": {"model": "m2"}, "plan": PLAN})
    clock = Clock()
    controller = Controller(store, [rollout], clock)
    await controller.step()  # start: 1%
    assert {p for p, v in _phases(name).items() if v} == {"ramping"}
    assert set(_phases(name).values()) == {0.0, 1.0}
    assert _value("llm_rollout_decisions_total", rollout=name, action="promote") == 1

    await traffic(store, clock.now, 10, rollout=name)  # 10% errors: the first failing look holds
    clock.now += INTERVAL
    assert (await controller.step())[name].action == "hold"
    assert _value("llm_rollout_decisions_total", rollout=name, action="hold") == 1
    verdicts = {
        v: _value("llm_rollout_gate_status", rollout=name, gate="error_rate", status=v)
        for v in ("pass", "fail", "inconclusive", "no_data")
    }
    assert verdicts == {"pass": 0, "fail": 1, "inconclusive": 0, "no_data": 0}

    await controller.close()  # another controller leads now: its values are the true ones
    assert set(_phases(name).values()) == {0.0}
    assert _value("llm_rollout_gate_status", rollout=name, gate="error_rate", status="fail") == 0


def test_an_accepted_gate_is_marked_until_the_acceptance_ends() -> None:
    name = f"m{uuid.uuid4().hex[:8]}"
    metrics = ControllerMetrics()
    accepted = RolloutState("v1", "ramping", approvals=frozenset({"gate:refusal_rate"}))
    metrics.record(name, Decision("promote", ("x",), (), accepted))
    assert _value("llm_rollout_gate_accepted", rollout=name, gate="refusal_rate") == 1
    fresh = RolloutState("v2", "ramping")  # a new version: approvals start again
    metrics.record(name, Decision("promote", ("x",), (), fresh))
    assert _value("llm_rollout_gate_accepted", rollout=name, gate="refusal_rate") == 0


def test_the_regression_tests_made_are_marked() -> None:
    name = f"m{uuid.uuid4().hex[:8]}"
    metrics = ControllerMetrics()
    tested = RolloutState("v1", "ramping", tested=frozenset({"error_rate"}))
    metrics.record(name, Decision("hold", ("x",), (), tested))
    assert _value("llm_rollout_regression_tested", rollout=name, gate="error_rate") == 1
    assert _value("llm_rollout_regression_tested", rollout=name, gate="latency_p95") is None
    metrics.forget()  # no longer the leader
    assert _value("llm_rollout_regression_tested", rollout=name, gate="error_rate") == 0
