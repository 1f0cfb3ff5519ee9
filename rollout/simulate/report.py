"""Many seeded replays per scenario and traffic level, summed up against the issue's targets:
A/A false rollbacks <= 1% of full ramps; each regression rolled back within 2 evaluation intervals
of the candidate's 500th request (counted as met when at least TARGET_SHARE of the runs do)."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

from rollout.config.plan import Plan
from rollout.simulate.flagger import FlaggerRule
from rollout.simulate.limit import ceiling, rate_changed
from rollout.simulate.replay import DETECT_AT, Horizon, RunResult, replay_decide, replay_flagger
from rollout.simulate.streams import BASELINE, SCENARIOS, Scenario, Stream
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


def default_plan() -> Plan:
    return Plan.model_validate({"automatic": True, "gates": SIM_GATES})


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

    def as_dict(self) -> dict:
        return asdict(self)


def _delays(results: Sequence[RunResult], interval: float) -> list[float]:
    return [d for r in results if (d := r.delay(interval)) is not None]


def summarise(
    scenario: Scenario, rate: float, rule: str, results: Sequence[RunResult], plan: Plan
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
    )


def _limit(scenario: Scenario, rate: float, plan: Plan) -> float | None:
    """The Neyman-Pearson ceiling for a rate regression, over the candidate requests expected by
    the deadline at the first stage's weight."""
    rates = rate_changed(BASELINE, scenario)
    if rates is None:
        return None
    per_second = rate * plan.stages[0].percent / 100.0
    n = DETECT_AT + round(DETECT_WITHIN * plan.evaluation_interval * per_second)
    return ceiling(*rates, n, MAX_FALSE_ROLLBACK)


def _replayers(settings: Settings, horizon: Horizon) -> dict[str, Callable[[Stream], RunResult]]:
    plan = settings.plan
    flagger = FlaggerRule.from_plan(plan, BASELINE, settings.flagger_checks)
    return {
        "decide": lambda s: replay_decide(plan, s, horizon),
        "flagger": lambda s: replay_flagger(plan, flagger, s, horizon),
    }


def simulate(settings: Settings) -> list[Row]:
    """Every scenario at every rate under both rules; the same seeds (so the same streams) for
    both rules and for every scenario."""
    rows = []
    for name in settings.scenarios:
        scenario = SCENARIOS[name]
        # A/A runs and candidates within their bounds go the full ramp. A regression, or a
        # candidate at a bound (it can never be shown within it), is watched for `after_500`
        # looks past 500 requests.
        aa = scenario.kind == "aa"
        runs = settings.runs if aa else settings.regression_runs
        after = None if scenario.kind in ("aa", "within") else settings.after_500
        replayers = _replayers(settings, Horizon(settings.max_looks, after))
        for rate in settings.rates:
            streams = [
                Stream(BASELINE, scenario.candidate, rate, (settings.seed, run))
                for run in range(runs)
            ]
            for rule in RULES:
                results = [replayers[rule](s) for s in streams]
                rows.append(summarise(scenario, rate, rule, results, settings.plan))
    return rows
