"""plan.require_eval end to end on the store (embedded and Redis): the controller reads the
version's recorded eval (only when the plan requires one and the rollout is pending), holds
without it, starts the ramp once `record_eval` stored a pass, or once an approver overrode it."""

from __future__ import annotations

from typing import Any

from prometheus_client import REGISTRY

from rollout.config.plan import RequireEval
from rollout.config.rollouts import Rollout
from rollout.control.controller import Controller
from rollout.control.eval_evidence import eval_key, record_eval
from rollout.control.human_actions import act, approval, controller_view
from rollout.control.live_state import state_key
from rollout.control.plan_audit import plan_summary
from rollout.store import Store
from tests.rollout.control.test_controller import INTERVAL, PLAN, ROLLOUT, Clock, traffic

REQUIRED = Rollout.model_validate(
    {
        "name": "summarise",
        "candidate": {"model": "m2"},
        "plan": PLAN.model_copy(update={"require_eval": RequireEval(tier="prod")}),
    }
)
KEY = state_key(REQUIRED.name)


def _entry(verdict: str = "pass", tier: str = "prod") -> dict[str, Any]:
    return {
        "version": REQUIRED.version,
        "verdict": verdict,
        "tier": tier,
        "dataset_digest": "9b1f00d2c3e4a5b6c7d8",
        "gates": [],
        "by": "alice",
        "at": 999_000.0,
    }


class _Reads:
    """The store's documents, counting the keys read."""

    def __init__(self, documents: Any) -> None:
        self._documents, self.keys = documents, []

    async def read(self, key: str) -> Any:
        self.keys.append(key)
        return await self._documents.read(key)

    async def write(self, key: str, doc: Any, expected_rev: int) -> Any:
        return await self._documents.write(key, doc, expected_rev)


async def _look(controller: Controller, clock: Clock) -> Any:
    decision = (await controller.step())[REQUIRED.name]
    clock.now += INTERVAL
    return decision


async def test_without_a_recorded_pass_it_stays_pending_and_with_one_it_starts(
    store: Store,
) -> None:
    clock = Clock()
    controller = Controller(store, [REQUIRED], clock)
    held = await _look(controller, clock)
    waiting = f"waiting for a passing eval of version {REQUIRED.version[:12]} at tier prod"
    assert (held.action, held.reasons) == ("hold", (f"{waiting} (none recorded)",))
    doc, _ = await store.documents.read(KEY)
    assert (doc["phase"], doc["weight"]) == ("pending", 0.0)  # no candidate call
    assert "plan" not in doc  # no ramp started: no plan remembered for it

    await record_eval(store, REQUIRED.name, _entry("pass", "staging"), "alice")
    assert (await _look(controller, clock)).reasons == (
        f"{waiting} (the recorded one is at tier staging, looser than prod)",
    )
    await record_eval(store, REQUIRED.name, _entry("fail"), "alice")
    assert (await _look(controller, clock)).reasons == (f"{waiting} (the recorded one failed)",)
    await record_eval(store, REQUIRED.name, _entry("pass"), "alice")
    started = await _look(controller, clock)
    assert (started.action, started.state.weight) == ("promote", 0.01)
    assert started.reasons == (
        "start",
        "eval passed at tier prod (dataset 9b1f00d2c3e4)",
        "to 1%",
    )
    doc, _ = await store.documents.read(KEY)
    assert (doc["phase"], doc["weight"], doc["plan"]["require_eval"]) == (
        "ramping",
        0.01,
        {"tier": "prod"},
    )
    entries = await store.audit.read(REQUIRED.name)
    # The first hold wrote the pending state (weight 0), later holds changed nothing.
    assert [e["action"] for e in entries if e["action"] != "eval_recorded"] == ["hold", "promote"]


async def test_evidence_is_read_only_for_a_pending_rollout_that_requires_it(store: Store) -> None:
    plain = ROLLOUT.model_copy(update={"name": "plain"})
    reads = _Reads(store.documents)
    store.documents = reads  # type: ignore[assignment]
    await record_eval(store, REQUIRED.name, _entry(), "alice")
    await record_eval(store, plain.name, _entry(), "alice")
    clock = Clock()
    controller = Controller(store, [plain, REQUIRED], clock)
    reads.keys.clear()
    await controller.step()  # both start; only the one that requires it read its evidence
    assert [k for k in reads.keys if k.startswith("eval/")] == [eval_key(REQUIRED.name)]
    await traffic(store, clock.now, None, rollout=REQUIRED.name)
    clock.now += INTERVAL
    reads.keys.clear()
    decision = (await controller.step())[REQUIRED.name]
    assert decision.state.weight == 0.05
    assert [k for k in reads.keys if k.startswith("eval/")] == []  # under way: not read again


async def test_an_approvers_override_starts_it_audited_and_watched(store: Store) -> None:
    clock = Clock()
    controller = Controller(store, [REQUIRED], clock)
    await record_eval(store, REQUIRED.name, _entry("fail"), "alice")
    assert (await _look(controller, clock)).action == "hold"

    override = await approval(store, REQUIRED, "eval")
    await act(
        store, REQUIRED, override, actor="boss (bob)", reason="hotfix, eval flaky", clock=clock
    )
    (entry,) = [e for e in await store.audit.read(REQUIRED.name) if e.get("by_hand")]
    assert (entry["action"], entry["actor"], entry["reason"]) == (
        "approve",
        "boss (bob)",
        "hotfix, eval flaky",
    )
    assert entry["reasons"] == [
        f"overrode the failed eval of version {REQUIRED.version[:12]} at tier prod:"
        " to start without a passing eval, marked for extra monitoring"
    ]

    started = await _look(controller, clock)
    assert (started.action, started.state.weight) == ("promote", 0.01)
    assert started.reasons[1].startswith("started without a passing eval (failed), overridden")
    doc, _ = await store.documents.read(KEY)
    view = controller_view(doc, REQUIRED)
    assert (view["accepted"], view["approvals"]) == (["eval_override"], ["eval:override"])
    watched = REGISTRY.get_sample_value(
        "llm_rollout_gate_accepted", {"rollout": REQUIRED.name, "gate": "eval_override"}
    )
    assert watched == 1.0


def test_an_unset_require_eval_keeps_the_stored_plan_hashes() -> None:
    """Plans stored before the field existed are not seen as edited after an upgrade."""
    assert "require_eval" not in plan_summary(PLAN)
    assert plan_summary(REQUIRED.plan)["require_eval"] == {"tier": "prod"}
