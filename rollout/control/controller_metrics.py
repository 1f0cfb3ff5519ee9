"""The controller's Prometheus metrics: where each automatic rollout stands, what the controller
decided, every gate's verdict and which gates' first-stage regression test was made, as of the
leader's last look.

Set only by the controller that leads; one that loses the lead sets its series to 0, so that
with several replicas (multiprocess mode `livemax` on one host, `max by` across hosts) the
leader's values are the ones that show. Served wherever the controller runs: on the admin port's
/metrics in `rollout serve`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, get_args

from prometheus_client import Counter, Gauge

from rollout.control.approvals import monitored
from rollout.control.decide import Decision, Phase
from rollout.control.gates import Verdict

PHASES: tuple[str, ...] = get_args(Phase)
VERDICTS: tuple[str, ...] = get_args(Verdict)

PHASE = Gauge(
    "llm_rollout_phase",
    "1 for the automatic rollout's current phase, 0 for the others (controller's last look)",
    ["rollout", "phase"],
    multiprocess_mode="livemax",
)
DECISIONS = Counter(
    "llm_rollout_decisions_total",
    "Controller decisions, one per look at a rollout, by action (hold included)",
    ["rollout", "action"],
)
GATE_STATUS = Gauge(
    "llm_rollout_gate_status",
    "1 for the gate's verdict at the controller's last look, 0 for the other verdicts",
    ["rollout", "gate", "status"],
    multiprocess_mode="livemax",
)
REGRESSION_TESTED = Gauge(
    "llm_rollout_regression_tested",
    "1 once the gate's first-stage regression test was made (its finding is in the audit)",
    ["rollout", "gate"],
    multiprocess_mode="livemax",
)
GATE_ACCEPTED = Gauge(
    "llm_rollout_gate_accepted",
    "1 while an approver has accepted the secondary gate's failure (watch it more closely);"
    " gate eval_override: the version started on an approver's override of its eval",
    ["rollout", "gate"],
    multiprocess_mode="livemax",
)
GATE_UNOBSERVABLE = Gauge(
    "llm_rollout_gate_unobservable",
    "1 while the gate has had no sample at all though the candidate kept serving (no JSON-mode"
    " request, an unpriced model...): it holds the ramp and will not get data as things are",
    ["rollout", "gate"],
    multiprocess_mode="livemax",
)


class ControllerMetrics:
    """What one controller process has set, so that it can take it back when it stops leading."""

    def __init__(self) -> None:
        self._set: set[tuple[Gauge, tuple[str, ...]]] = set()

    def record(self, rollout: str, decision: Decision) -> None:
        DECISIONS.labels(rollout, decision.action).inc()
        for phase in PHASES:
            self._gauge(PHASE, (rollout, phase), phase == decision.state.phase)
        for result in decision.gates:  # none on terminal and pending looks: the last ones stay
            for verdict in VERDICTS:
                self._gauge(GATE_STATUS, (rollout, result.gate, verdict), verdict == result.verdict)
        for gate in decision.state.tested:
            self._gauge(REGRESSION_TESTED, (rollout, gate), True)
        accepted = set(monitored(decision.state.approvals))  # eval_override too
        for gauge, labels in list(self._set):  # an acceptance ends with the rollout version
            if gauge is GATE_ACCEPTED and labels[0] == rollout and labels[1] not in accepted:
                self._gauge(GATE_ACCEPTED, labels, False)
        for gate in accepted:
            self._gauge(GATE_ACCEPTED, (rollout, gate), True)

    def record_look(self, rollout: str, look: Mapping[str, Any]) -> None:
        """The gates of the look document (rollout/control/look.py) that cannot get data."""
        for gate in look.get("gates", []):
            self._gauge(GATE_UNOBSERVABLE, (rollout, gate["gate"]), bool(gate.get("unobservable")))

    def forget(self) -> None:
        """No longer the leader: another controller's values are the true ones."""
        for gauge, labels in self._set:
            gauge.labels(*labels).set(0)

    def _gauge(self, gauge: Gauge, labels: tuple[str, ...], on: bool) -> None:
        gauge.labels(*labels).set(1 if on else 0)
        self._set.add((gauge, labels))
