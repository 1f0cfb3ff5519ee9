"""The controller's row: where the ramp stands (phase, weight), what the controller decided at
each look, and every gate's verdict, from the series of docs/metrics.md.

`llm_rollout_phase` and `llm_rollout_gate_status` are 1 for the current value and 0 for the
others, one series per value. `coded()` turns them into one number per rollout (or per gate), so
that a stat or a state timeline shows the value's name and colour through value mappings. Only
the controller holding the leader lock sets them; the others set 0, so the leader's code is the
max across replicas, and 0 means that no controller leads (or none has looked yet).
"""

from __future__ import annotations

from panel_model import ROLLOUT, WINDOW, Panel, Row, fixed_colour, override, value_mappings

GREY = "#8e8e8e"
NO_LEADER = (0, ("no leader", "transparent"))
# Every phase of rollout/control/decide.py, by code
# (tests/helm/test_dashboard.py keeps them in step).
PHASES: dict[str, tuple[int, str]] = {
    "pending": (1, GREY),
    "shadow": (2, "purple"),
    "ramping": (3, "blue"),
    "paused": (4, "yellow"),
    "awaiting_approval": (5, "orange"),
    "baking": (6, "light-green"),
    "complete": (7, "green"),
    "rolled_back": (8, "red"),
    "aborted": (9, "dark-red"),
}
# Worst last: the max over a gate's series is its verdict, whatever the order of the series.
VERDICTS: dict[str, tuple[int, str]] = {
    "pass": (1, "green"),
    "inconclusive": (2, "yellow"),
    "no_data": (3, GREY),
    "fail": (4, "red"),
}
ACTIONS = {
    "promote": "green",
    "complete": "blue",
    "hold": GREY,
    "await_approval": "orange",
    "roll_back": "red",
}


def coded(metric: str, label: str, codes: dict[str, tuple[int, str]], by: str = "") -> str:
    """The code of the value whose series is 1 (0 when none is), per `by`. Each series is
    multiplied by its value's code; `or` keeps them all (their `label` differs); max picks it."""
    terms = "\n  or ".join(
        f'{metric}{{{ROLLOUT}, {label}="{value}"}} * {code}' for value, (code, _) in codes.items()
    )
    group = f" by ({by})" if by else ""
    return f"max{group} (\n  {terms}\n)"


def code_mappings(codes: dict[str, tuple[int, str]]) -> list[dict]:
    return value_mappings(
        dict([NO_LEADER, *((code, (name, colour)) for name, (code, colour) in codes.items())])
    )


PHASE = coded("llm_rollout_phase", "phase", PHASES)
PHASE_MAPPINGS = code_mappings(PHASES)
GATE_VERDICTS = coded("llm_rollout_gate_status", "status", VERDICTS, by="gate")
VERDICT_MAPPINGS = code_mappings(VERDICTS)
BIG_COLOURED = {"colorMode": "background", "graphMode": "none", "textMode": "value_and_name"}
TIMELINE = {"showValue": "auto", "mergeValues": True, "rowHeight": 0.8}

CONTROLLER = Row(
    "Controller: $rollout",
    [
        Panel(
            "Phase",
            "none",
            [(PHASE, "phase")],
            "Where the automatic rollout stands at the controller's last look. "
            "awaiting_approval: a person must act (`rollout status` says what it waits for); "
            "paused: a person stopped the ramp; rolled_back: the candidate serves no one.",
            kind="stat",
            mappings=PHASE_MAPPINGS,
            options={**BIG_COLOURED, "textMode": "value"},
        ),
        Panel(
            "Gate verdicts now",
            "none",
            [(GATE_VERDICTS, "{{gate}}")],
            "Each gate's verdict at the last look. fail: a primary gate rolls back after "
            "`rollback_after` failing looks in a row (at once when it fails the first stage's "
            "regression test), a secondary one waits for an approver; "
            "no_data: too few calls yet (never a pass); inconclusive: not shown either way yet.",
            kind="stat",
            mappings=VERDICT_MAPPINGS,
            options=BIG_COLOURED,
        ),
        Panel(
            "Accepted secondary gates",
            "none",
            [(f"max by (gate) (llm_rollout_gate_accepted{{{ROLLOUT}}})", "{{gate}}")],
            "Failing secondary gates an approver let through (`rollout approve --gate`): the "
            "ramp goes on despite them, so watch their metric closely. No data: none accepted.",
            kind="stat",
            mappings=value_mappings({0: ("no", "green"), 1: ("ACCEPTED: watch", "orange")}),
            options=BIG_COLOURED,
        ),
        Panel(
            "Regression test (first stage)",
            "none",
            [(f"max by (gate) (llm_rollout_regression_tested{{{ROLLOUT}}})", "{{gate}}")],
            "Gates whose one planned regression test was made, when the candidate had served the "
            "plan's requests (500) in the first stage: worse than the baseline and past the "
            "bound rolls back (primary) or waits for an approver (secondary); what each found is "
            "in `rollout history`. No data: not made yet.",
            kind="stat",
            mappings=value_mappings({1: ("made", "blue")}),
            options=BIG_COLOURED,
        ),
        Panel(
            "Phase and candidate weight",
            "none",
            [(PHASE, "phase"), (f"max(llm_rollout_weight{{{ROLLOUT}}})", "candidate weight")],
            "The phase over time, above the candidate's share of subjects (one step per stage; "
            "0 after a rollback).",
            kind="state-timeline",
            mappings=PHASE_MAPPINGS,
            overrides=[
                override(
                    "byFrameRefID",
                    "B",
                    unit="percentunit",
                    mappings=[],
                    color={"mode": "continuous-blues"},
                    min=0,
                    max=1,
                )
            ],
            options=TIMELINE,
        ),
        Panel(
            "Gate verdicts over time",
            "none",
            [(GATE_VERDICTS, "{{gate}}")],
            "One line per gate: when it passed, failed, lacked data or could not tell yet.",
            kind="state-timeline",
            mappings=VERDICT_MAPPINGS,
            options=TIMELINE,
        ),
        Panel(
            "Decisions by action",
            "short",
            [
                (
                    f"sum by (action) (increase(llm_rollout_decisions_total{{{ROLLOUT}}}{WINDOW}))",
                    "{{action}}",
                )
            ],
            "One decision per look (every evaluation_interval), counted by the controller that "
            "led, hence the sum across replicas. hold: minimums or gates not met yet; "
            "await_approval: a person must act; roll_back (red): the candidate was taken off.",
            custom={"drawStyle": "bars", "fillOpacity": 80, "stacking": {"mode": "normal"}},
            overrides=[
                override("byName", action, color=fixed_colour(colour))
                for action, colour in ACTIONS.items()
            ],
        ),
    ],
)
