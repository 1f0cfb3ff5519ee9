"""Many seeded replays per scenario, traffic level and plan, summed up per row: A/A false
rollbacks over full ramps; each regression rolled back within 2 evaluation intervals of the
candidate's 500th request (counted as met when at least TARGET_SHARE of the runs do), or, with a
shadow phase, before any user saw it; and the harm, the bad answers users received because of
the candidate before its rollback. rollout/simulate/targets.py turns the rows into the targets.

Two plans: "live" (the default plan: the first stage is where a regression is caught) and
"shadow" (the same plan with a shadow phase first, the recommended one: `shadow_plan`)."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

from rollout.config.plan import Plan
from rollout.simulate.flagger import FlaggerRule
from rollout.simulate.limit import ceiling, rate_changed
from rollout.simulate.replay import DETECT_AT, Horizon, RunResult, replay_decide, replay_flagger
from rollout.simulate.streams import BASELINE, SCENARIOS, Mirror, Scenario, Stream
from rollout.stats.gate_stats import wilson

MAX_FALSE_ROLLBACK = 0.01
DETECT_WITHIN = 2.0  # evaluation intervals after the 500th candidate request
TARGET_SHARE = 0.9  # of the runs, for a regression's target to count as met
RULES = ("decide", "flagger")

# The gates every scenario is judged by: the default gates (refusals made primary, so that a
# refusal regression rolls back rather than waiting for a person) plus a cost gate.
SIM_GATES = [
    {"metric": "error_rate", "max_delta_to_baseline": 0.01},
    {"metric": "refusal_rate", "max_delta_to_baseline": 0.02},
    {"metric": "latency_p95", "max_ratio_to_baseline": 1.2},
    {"metric": "cost_per_1k", "max_ratio_to_baseline": 1.1},
]


SHADOW = {"duration": 600, "min_requests": 100}  # the shadow phase of the "shadow" plan
PLANS = ("live", "shadow")


def default_plan() -> Plan:
    return Plan.model_validate({"automatic": True, "gates": SIM_GATES})


def shadow_plan(plan: Plan) -> Plan:
    """`plan` with a shadow phase first (unless it has one)."""
    if plan.shadow is not None:
        return plan
    return Plan.model_validate({**plan.model_dump(by_alias=True), "shadow": SHADOW})


@dataclass(frozen=True, slots=True)
class Settings:
    plan: Plan = field(default_factory=default_plan)
    scenarios: tuple[str, ...] = ("aa", "errors+2pp", "refusals+3pp", "p95+30%", "cost+25%")
    rates: tuple[float, ...] = (10.0, 100.0)
    runs: int = 5  # A/A ramps per traffic level
    regression_runs: int = 5  # per other scenario and traffic level
    seed: int = 0
    after_500: int = 10  # a non-A/A run ends this many looks after 500 candidate requests
    max_looks: int = 2000
    flagger_checks: int = 2
    plans: tuple[str, ...] = ("live",)  # of PLANS
    mirror: Mirror = field(default_factory=Mirror)

    def plan_for(self, kind: str) -> Plan:
        return shadow_plan(self.plan) if kind == "shadow" else self.plan


@dataclass(frozen=True, slots=True)
class Row:
    scenario: str
    rate: float
    rule: str
    runs: int
    rolled_back: int
    completed: int
    held: int  # stalled at the horizon, or waiting for an approver
    within_target: int  # regression: rolled back within DETECT_WITHIN; else: not rolled back
    rolled_back_upper95: float  # Wilson 95% upper bound of the rollback share
    median_delay: float | None  # intervals from the 500th candidate request to rollback (0: before)
    median_requests_at_rollback: float | None  # candidate requests seen when rolled back
    median_minutes: float  # simulated minutes per run
    target_met: bool | None  # None: the issue sets no target (at the bound)
    promoted: int = 0  # runs that left the first stage (for a regression: more users exposed)
    # A rate regression: the share no rule keeping A/A false rollbacks within the target could
    # roll back by the deadline (rollout/simulate/limit.py); None for the others.
    limit: float | None = None
    plan: str = "live"  # of PLANS
    # Rolled back in the shadow phase, before any user saw the candidate; and the median shadow
    # requests the candidate had answered then.
    rolled_back_in_shadow: int = 0
    median_shadow_at_rollback: float | None = None
    # Bad answers users received because of the candidate, per run (mean): its live requests
    # times how much worse its rate is. For rate scenarios only (None for latency and cost).
    harm: float | None = None
    # The rollbacks by the rule that made them (`rule_of`): every rule is inside the A/A budget.
    by_rule: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def _delays(results: Sequence[RunResult], interval: float) -> list[float]:
    return [d for r in results if (d := r.delay(interval)) is not None]


def harm_per_request(scenario: Scenario) -> float | None:
    """How much more often the candidate answers badly than the baseline (a rate), or None."""
    rates = rate_changed(BASELINE, scenario)
    if rates is None:
        return 0.0 if scenario.kind == "aa" else None
    return rates[1] - rates[0]


def summarise(
    scenario: Scenario,
    rate: float,
    rule: str,
    results: Sequence[RunResult],
    plan: Plan,
    kind: str = "live",
) -> Row:
    n = len(results)
    rolled = sum(r.outcome == "rolled_back" for r in results)
    delays = _delays(results, plan.evaluation_interval)
    at_rollback = [r.candidate_requests for r in results if r.outcome == "rolled_back"]
    if scenario.kind == "regression":
        within = sum(d <= DETECT_WITHIN for d in delays)
        met: bool | None = within >= TARGET_SHARE * n
    else:  # A/A, at or within the bound: any rollback is a false alarm
        within = n - rolled
        met = rolled / n <= MAX_FALSE_ROLLBACK if scenario.kind == "aa" else None
    return Row(
        scenario=scenario.name,
        rate=rate,
        rule=rule,
        runs=n,
        rolled_back=rolled,
        completed=sum(r.outcome == "complete" for r in results),
        held=sum(r.outcome in ("stalled", "awaiting_approval") for r in results),
        within_target=within,
        rolled_back_upper95=wilson(rolled, n, 0.95).high,
        median_delay=max(statistics.median(delays), 0.0) if delays else None,
        median_requests_at_rollback=statistics.median(at_rollback) if at_rollback else None,
        median_minutes=statistics.median(r.end for r in results) / 60.0,
        target_met=met,
        promoted=sum(r.stage > plan.stages[0].percent for r in results),
        limit=_limit(scenario, rate, plan) if scenario.kind == "regression" else None,
        plan=kind,
        rolled_back_in_shadow=sum(r.outcome == "rolled_back" and r.in_shadow for r in results),
        median_shadow_at_rollback=_median(
            [r.shadow_requests for r in results if r.outcome == "rolled_back" and r.in_shadow]
        ),
        harm=None
        if (per := harm_per_request(scenario)) is None
        else statistics.fmean(r.candidate_requests * per for r in results),
        by_rule=_by_rule(results),
    )


def rule_of(reason: str) -> str:
    """Which rule made a rollback, from its first reason."""
    for rule, mark in (
        ("catastrophe", "catastrophe:"),
        ("gross", "gross regression:"),
        ("shadow test", ": shadow test at"),
        ("test", ": regression test at"),
        ("breach", " looks: "),
    ):
        if mark in reason:
            return rule
    return "other"


def _by_rule(results: Sequence[RunResult]) -> dict[str, int]:
    rules = [rule_of(r.reason) for r in results if r.outcome == "rolled_back"]
    return {rule: rules.count(rule) for rule in sorted(set(rules))}


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _limit(scenario: Scenario, rate: float, plan: Plan) -> float | None:
    """The Neyman-Pearson ceiling for a rate regression, over the candidate requests expected by
    the deadline at the first stage's weight."""
    rates = rate_changed(BASELINE, scenario)
    if rates is None:
        return None
    per_second = rate * plan.stages[0].percent / 100.0
    n = DETECT_AT + round(DETECT_WITHIN * plan.evaluation_interval * per_second)
    return ceiling(*rates, n, MAX_FALSE_ROLLBACK)


def _replayers(
    settings: Settings, kind: str, horizon: Horizon
) -> dict[str, Callable[[Stream], RunResult]]:
    plan = settings.plan_for(kind)
    replayers: dict[str, Callable[[Stream], RunResult]] = {
        "decide": lambda s: replay_decide(plan, s, horizon, settings.mirror)
    }
    if kind == "live":  # the Flagger-style rule has no shadow phase
        flagger = FlaggerRule.from_plan(plan, BASELINE, settings.flagger_checks)
        replayers["flagger"] = lambda s: replay_flagger(plan, flagger, s, horizon)
    return replayers


def simulate(settings: Settings) -> list[Row]:
    """Every scenario at every rate under each plan and rule; the same seeds (so the same
    streams) for every rule, plan and scenario."""
    rows = []
    for name in settings.scenarios:
        scenario = SCENARIOS[name]
        # A/A runs and candidates within their bounds go the full ramp. A regression, or a
        # candidate at a bound (it can never be shown within it), is watched for `after_500`
        # looks past 500 requests.
        aa = scenario.kind == "aa"
        runs = settings.runs if aa else settings.regression_runs
        after = None if scenario.kind in ("aa", "within") else settings.after_500
        for kind in settings.plans:
            replayers = _replayers(settings, kind, Horizon(settings.max_looks, after))
            plan = settings.plan_for(kind)
            for rate in settings.rates:
                streams = [
                    Stream(BASELINE, scenario.candidate, rate, (settings.seed, run))
                    for run in range(runs)
                ]
                for rule, replay in replayers.items():
                    results = [replay(s) for s in streams]
                    rows.append(summarise(scenario, rate, rule, results, plan, kind))
    return rows
