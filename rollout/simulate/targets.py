"""The issue's targets over `rollout simulate`'s rows: each a figure, what is wanted, the ceiling
or floor no rule can beat (or the budget it is held to), and PASS or MISS.

1. A/A: at most 1% of whole ramps rolled back, counting every rule that can roll back (the
   planned tests, breaches, shadow, catastrophe); a bursty, over-dispersed A/A at most 2%.
2. With a shadow phase: each regression rolled back in shadow, before any user saw it, in at
   least 95% of runs; errors +2 pp within 1,000 shadow requests (median).
3. Without: the share rolled back by the deadline (2 intervals after the candidate's 500th
   request) at least 95% of the Neyman-Pearson ceiling at the gate's own share of the budget.
4. Harm (mean extra bad answers users received per regressed ramp): errors +2 pp <= 1 with a
   shadow phase, <= 10 without; errors +20 pp <= 8.
5. Guards: candidates at their bound rolled back <= 50%, at half their bound <= 5%; a regression
   promoted past the first stage in <= 1% of runs.

Only the `decide` rows count; a target whose rows were not simulated is left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rollout.config.plan import Plan
from rollout.control.regression_test import gate_alpha, relative_gates
from rollout.simulate.limit import ceiling, rate_changed, two_sample_requests
from rollout.simulate.replay import DETECT_AT
from rollout.simulate.report import DETECT_WITHIN, Row, shadow_plan
from rollout.simulate.streams import BASELINE, SCENARIOS

AA_MAX, BURSTY_MAX = 0.01, 0.02
SHADOW_SHARE, SHADOW_ERRORS_WITHIN = 0.95, 1000
OF_CEILING = 0.95
HARM_MAX = {("errors+2pp", "shadow"): 1.0, ("errors+2pp", "live"): 10.0, ("errors+20pp", ""): 8.0}
AT_BOUND_MAX, WITHIN_MAX, PROMOTED_MAX = 0.5, 0.05, 0.01
REGRESSIONS = ("errors+2pp", "refusals+3pp", "p95+30%", "cost+25%")


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    figure: str
    want: str
    ceiling: str  # the ceiling, floor or baseline printed beside the figure ("-": none)
    met: bool


SCENARIO_METRIC = {"errors": "error_rate", "refusals": "refusal_rate"}


def gate_share(plan: Plan, scenario: str) -> float:
    """The share of the A/A budget the plan's test gives the gate a rate scenario regresses
    (regression_test.gate_alpha), or the whole budget when it has none."""
    metric = SCENARIO_METRIC.get(scenario.split("+")[0])
    gate = next((g for g in relative_gates(plan) if g.metric == metric), None)
    return gate_alpha(plan, gate) if gate is not None else AA_MAX


def deadline_requests(plan: Plan, rate: float) -> int:
    """Candidate requests expected by the deadline at the first stage's weight."""
    per_second = rate * plan.stages[0].percent / 100.0
    return DETECT_AT + round(DETECT_WITHIN * plan.evaluation_interval * per_second)


def requests_for_power(p0: float, p1: float, share: float, power: float = 0.95) -> int:
    """The fewest requests with which the most powerful test of p0 (known) against p1, at a false
    alarm of `share`, has `power`: no rule on the candidate's requests alone needs fewer."""
    low, high = 1, 64
    while ceiling(p0, p1, high, share) < power:
        low, high = high, high * 2
    while low < high:  # power grows with n, up to the randomisation's small wobble
        mid = (low + high) // 2
        low, high = (mid + 1, high) if ceiling(p0, p1, mid, share) < power else (low, mid)
    return low


def _decide(rows: Sequence[Row]) -> list[Row]:
    return [r for r in rows if r.rule == "decide"]


def _pooled(rows: Sequence[Row], scenario: str, plan: str) -> tuple[int, int, str] | None:
    """(rolled back, runs, by which rules) over every rate."""
    chosen = [r for r in rows if r.scenario == scenario and r.plan == plan]
    if not chosen:
        return None
    rules: dict[str, int] = {}
    for r in chosen:
        for rule, n in r.by_rule.items():
            rules[rule] = rules.get(rule, 0) + n
    said = ", ".join(f"{rule} {n}" for rule, n in sorted(rules.items()))
    return sum(r.rolled_back for r in chosen), sum(r.runs for r in chosen), said


def _aa(rows: Sequence[Row]) -> list[Target]:
    out = []
    for scenario, limit in (("aa", AA_MAX), ("aa-bursty", BURSTY_MAX)):
        for plan in ("live", "shadow"):
            pooled = _pooled(rows, scenario, plan)
            if pooled is None:
                continue
            rolled, runs, rules = pooled
            share = rolled / runs
            out.append(
                Target(
                    f"{scenario} false rollbacks ({plan})",
                    f"{rolled}/{runs} = {share:.2%}" + (f" ({rules})" if rules else ""),
                    f"<= {limit:.0%}",
                    f"budget {limit:.0%}",
                    share <= limit,
                )
            )
    return out


def _shadow(rows: Sequence[Row], plan: Plan) -> list[Target]:
    out = []
    for r in rows:
        if r.plan != "shadow" or r.scenario not in REGRESSIONS:
            continue
        caught = r.rolled_back_in_shadow / r.runs
        out.append(
            Target(
                f"{r.scenario} @ {r.rate:g}/s rolled back in shadow",
                f"{caught:.0%}",
                f">= {SHADOW_SHARE:.0%}",
                "-",
                caught >= SHADOW_SHARE,
            )
        )
        if r.scenario == "errors+2pp":
            p0, p1 = rate_changed(BASELINE, SCENARIOS[r.scenario]) or (0.0, 0.0)
            share = gate_share(plan, r.scenario)
            median = r.median_shadow_at_rollback
            known, noise = requests_for_power(p0, p1, share), two_sample_requests(p0, p1, share)
            out.append(
                Target(
                    f"{r.scenario} @ {r.rate:g}/s shadow requests at rollback",
                    "-" if median is None else f"{median:.0f}",
                    f"<= {SHADOW_ERRORS_WITHIN}",
                    f"floor {known} known baseline, {noise} vs noise (95%, {share:.3%})",
                    median is not None and median <= SHADOW_ERRORS_WITHIN,
                )
            )
    return out


def _power(rows: Sequence[Row], plan: Plan) -> list[Target]:
    out = []
    for r in rows:
        if r.plan != "live" or r.scenario not in REGRESSIONS:
            continue
        share = gate_share(plan, r.scenario)
        power = r.within_target / r.runs
        rates = rate_changed(BASELINE, SCENARIOS[r.scenario])
        top = ceiling(*rates, deadline_requests(plan, r.rate), share) if rates else 1.0
        named = f"ceiling {top:.1%} at {share:.2%}" if rates else "ceiling 100% (none computed)"
        out.append(
            Target(
                f"{r.scenario} @ {r.rate:g}/s power at the deadline (live)",
                f"{power:.0%}",
                f">= {OF_CEILING:.0%} of ceiling",
                named,
                power >= OF_CEILING * top,
            )
        )
    return out


def _harm(rows: Sequence[Row], plan: Plan) -> list[Target]:
    out = []
    for r in rows:
        limit = HARM_MAX.get((r.scenario, r.plan), HARM_MAX.get((r.scenario, "")))
        if limit is None or r.harm is None:
            continue
        p0, p1 = rate_changed(BASELINE, SCENARIOS[r.scenario]) or (0.0, 0.0)
        per = p1 - p0
        # the least any rule judging at looks could let through: the first look's requests
        first = r.rate * plan.stages[0].percent / 100.0 * plan.evaluation_interval * per
        floor = "0 (shadow)" if r.plan == "shadow" else f"floor {first:.1f} (first look)"
        out.append(
            Target(
                f"{r.scenario} @ {r.rate:g}/s harm ({r.plan})",
                f"{r.harm:.1f}",
                f"<= {limit:g}",
                floor,
                r.harm <= limit,
            )
        )
    return out


def _guards(rows: Sequence[Row]) -> list[Target]:
    out = []
    for r in rows:
        kind = SCENARIOS[r.scenario].kind
        if kind not in ("at_bound", "within"):
            continue
        limit = AT_BOUND_MAX if kind == "at_bound" else WITHIN_MAX
        share = r.rolled_back / r.runs
        out.append(
            Target(
                f"{r.scenario} @ {r.rate:g}/s rolled back ({r.plan})",
                f"{share:.0%}",
                f"<= {limit:.0%}",
                "-",
                share <= limit,
            )
        )
    regressions = [r for r in rows if SCENARIOS[r.scenario].kind == "regression"]
    if regressions:
        promoted, runs = sum(r.promoted for r in regressions), sum(r.runs for r in regressions)
        out.append(
            Target(
                "regressions promoted past the first stage",
                f"{promoted}/{runs} = {promoted / runs:.1%}",
                f"<= {PROMOTED_MAX:.0%}",
                "-",
                promoted / runs <= PROMOTED_MAX,
            )
        )
    return out


def targets(rows: Sequence[Row], plan: Plan) -> list[Target]:
    """Every target the rows allow, in the issue's order. `plan`: the plan without a shadow
    phase (the shadow plan is it with one: report.shadow_plan)."""
    mine = _decide(rows)
    return [
        *_aa(mine),
        *_shadow(mine, shadow_plan(plan)),
        *_power(mine, plan),
        *_harm(mine, plan),
        *_guards(mine),
    ]
