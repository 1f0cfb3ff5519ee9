"""`rollout simulate`: the simulator's options, and its results as a table or JSON.

numpy draws the synthetic streams; it is imported only when the command runs, so the proxy and
the other commands do not need it.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Sequence
from typing import Any

from rollout.cli.output import print_json, print_table
from rollout.errors import RolloutError

SCENARIO_NAMES = (
    "aa",
    "aa-bursty",
    "errors+2pp",
    "refusals+3pp",
    "p95+30%",
    "cost+25%",
    "errors+20pp",
    "errors+1pp",
    "p95+20%",
    "errors+0.5pp",
    "p95+10%",
)
DEFAULT_SCENARIOS = ("aa", "errors+2pp", "refusals+3pp", "p95+30%", "cost+25%")
QUICK = {"rates": "10,100", "runs": 5, "regression_runs": 5}
# --full: every scenario, both plans; 750 A/A ramps per plan (two seeds: 1,500).
FULL = {"rates": "10,100", "runs": 375, "regression_runs": 50}


def add_simulate_command(sub: Any) -> None:
    sim = sub.add_parser(
        "simulate",
        help="replay synthetic metric streams through decide() and a Flagger-style rule",
        description="A/A false rollbacks and time to detect regressions, over full ramps.",
    )
    sim.add_argument(
        "--scenarios",
        type=_names,
        default=DEFAULT_SCENARIOS,
        help=f"comma-separated, of {', '.join(SCENARIO_NAMES)} (default: the first five)".replace(
            "%",
            "%%",  # argparse formats help with %
        ),
    )
    rates, runs, others = QUICK["rates"], QUICK["runs"], QUICK["regression_runs"]
    sim.add_argument(
        "--rates", type=_rates, default=None, help=f"candidate-eligible requests/s ({rates})"
    )
    sim.add_argument("--runs", type=_positive, default=None, help=f"A/A ramps per rate ({runs})")
    sim.add_argument(
        "--regression-runs",
        type=_positive,
        default=None,
        help=f"runs of each other scenario per rate ({others})",
    )
    sim.add_argument(
        "--full",
        action="store_true",
        help=f"rates {FULL['rates']}, {FULL['runs']} A/A runs, {FULL['regression_runs']} per"
        " regression (minutes) unless given",
    )
    sim.add_argument(
        "--plans",
        type=_plans,
        default=None,
        help="live (no shadow phase), shadow (a shadow phase first) or both (live; --full: both)",
    )
    sim.add_argument(
        "--noise-share",
        type=float,
        default=1.0,
        help="of the mirrored requests, the share also sent to the baseline again (1.0)",
    )
    sim.add_argument(
        "--mirror-errors",
        type=float,
        default=0.0,
        help="errors the mirror path adds to every shadow call, e.g. 0.01 (0: healthy)",
    )
    sim.add_argument("--seed", type=int, default=0, help="same seed, same streams, same result")
    sim.add_argument(
        "--after", type=_positive, default=10, help="looks after 500 requests before giving up"
    )
    sim.add_argument("--max-looks", type=_positive, default=2000, help="looks per run at most")
    sim.add_argument(
        "--flagger-checks", type=_positive, default=2, help="failed checks before rollback (2)"
    )
    sim.add_argument("--rollback-confidence", type=float, help="override the plan's (0.99)")
    sim.add_argument("--rollback-after", type=_positive, help="override the plan's (2)")
    sim.add_argument(
        "--regression-requests",
        type=_positive,
        help="first-stage candidate requests at the regression test (the plan's: 500)",
    )
    sim.add_argument(
        "--false-alarm", type=float, help="the regression test's false-alarm rate (0.01)"
    )
    sim.add_argument(
        "--no-regression-test",
        action="store_true",
        help="breaches only: docs/controller.md, Verdicts",
    )
    sim.add_argument(
        "--plan",
        metavar="FILE",
        help="no simulation: what each rollout's shadow-phase test needs (calls, minutes at"
        " --rates) in this config file",
    )
    sim.add_argument("--json", action="store_true", help="print JSON for tools")
    sim.set_defaults(command=_simulate)


def _names(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in SCENARIO_NAMES]
    if unknown or not names:
        given = ", ".join(unknown) or "(none)"
        raise argparse.ArgumentTypeError(
            f"unknown scenario {given}: pick from {', '.join(SCENARIO_NAMES)}"
        )
    return names


def _plans(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names or any(n not in ("live", "shadow") for n in names):
        raise argparse.ArgumentTypeError(f"plans are live and/or shadow, got {text!r}")
    return names


def _rates(text: str) -> tuple[float, ...]:
    try:
        rates = tuple(float(r) for r in text.split(","))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"rates are numbers, got {text!r}") from exc
    if not rates or any(r <= 0 for r in rates):
        raise argparse.ArgumentTypeError(f"rates must be > 0, got {text!r}")
    return rates


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"a whole number, got {text!r}") from exc
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def _settings(args: argparse.Namespace) -> Any:
    from rollout.simulate.report import Settings, default_plan
    from rollout.simulate.streams import Mirror

    plan = default_plan()
    overrides: dict[str, Any] = {}
    confidence = plan.confidence.model_dump()
    if args.rollback_confidence is not None:
        confidence["promote"] = min(plan.confidence.promote, args.rollback_confidence)
        confidence["rollback"] = args.rollback_confidence
    if confidence != plan.confidence.model_dump():
        overrides["confidence"] = confidence
    if args.rollback_after is not None:
        overrides["rollback_after"] = args.rollback_after
    test = plan.regression_test.model_dump() if plan.regression_test else {}
    if args.regression_requests is not None:
        test["requests"] = args.regression_requests
    if args.false_alarm is not None:
        test["false_alarm"] = args.false_alarm
    overrides["regression_test"] = None if args.no_regression_test else test
    if overrides:
        plan = type(plan).model_validate({**plan.model_dump(by_alias=True), **overrides})
    full = args.full
    every = full and args.scenarios == DEFAULT_SCENARIOS
    return Settings(
        plan=plan,
        scenarios=SCENARIO_NAMES if every else args.scenarios,
        rates=args.rates or _rates((FULL if full else QUICK)["rates"]),
        runs=args.runs or (FULL if full else QUICK)["runs"],
        regression_runs=args.regression_runs or (FULL if full else QUICK)["regression_runs"],
        seed=args.seed,
        after_500=args.after,
        max_looks=args.max_looks,
        flagger_checks=args.flagger_checks,
        plans=args.plans or (("live", "shadow") if full else ("live",)),
        mirror=Mirror(noise_share=args.noise_share, extra_errors=args.mirror_errors),
    )


def _plan(args: argparse.Namespace) -> int:
    from rollout.config import load_config
    from rollout.simulate.planner import POWER, plan_rows

    try:
        config = load_config(args.plan)
    except RolloutError as exc:
        print(f"cannot plan: {exc}", file=sys.stderr)
        return 1
    rates = args.rates or _rates(QUICK["rates"])
    found = {r.name: plan_rows(r, rates) for r in config.rollouts if r.plan.shadow is not None}
    if args.json:
        return print_json({n: [dataclasses.asdict(x) for x in rows] for n, rows in found.items()})
    if not found:
        print("no rollout in this config has a shadow phase (plan.shadow)")
        return 0
    header = ("rollout", "gate", "share", "baseline", "regression", f"{POWER:.0%} power at",
              "test_requests", "power", *(f"min @ {r:g}/s" for r in rates))  # fmt: skip
    cells = []
    for name, rows in found.items():
        for x in rows:
            cells.append(
                [name, x.gate, f"{x.share:.3%}", _pct(x.baseline), _pct(x.regression),
                 "-" if x.needed is None else str(x.needed), str(x.configured or "-"),
                 _pct(x.power), *(f"{x.minutes[r]:.0f}" if r in x.minutes else "-"
                                  for r in rates)]
            )  # fmt: skip
    print_table(header, cells)
    print(
        "\nshare: the gate's part of regression_test.false_alarm; regression: twice the bound"
        " over the baseline; calls on each side (candidate and noise arm), normal approximation;"
        " minutes: until both sides have test_requests at the mirror's share and noise_share."
    )
    return 0


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def _simulate(args: argparse.Namespace) -> int:
    if args.plan:
        return _plan(args)
    try:
        settings = _settings(args)
        from rollout.simulate.report import simulate

        started = time.monotonic()
        rows = simulate(settings)
    except ImportError as exc:
        print(f"rollout simulate needs numpy ({exc}): pip install numpy", file=sys.stderr)
        return 1
    except (RolloutError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
        print(f"cannot simulate: {exc}", file=sys.stderr)
        return 1
    from rollout.simulate.targets import targets

    found = targets(rows, settings.plan)
    if args.json:
        return print_json(_as_json(settings, rows, found))
    print_table(HEADER, [_cells(r) for r in rows])
    if found:
        print()
        print_table(TARGET_HEADER, [_target_cells(t) for t in found])
    print(_footer(settings, time.monotonic() - started))
    return 0


def _as_json(settings: Any, rows: Sequence[Any], found: Sequence[Any]) -> dict[str, Any]:
    from rollout.simulate.report import DETECT_WITHIN, MAX_FALSE_ROLLBACK, TARGET_SHARE

    plan = settings.plan
    return {
        "settings": {
            **{k: v for k, v in dataclasses.asdict(settings).items() if k != "plan"},
            "plan": plan.model_dump(mode="json", by_alias=True, exclude_none=True),
        },
        "targets": {
            "aa_max_false_rollback": MAX_FALSE_ROLLBACK,
            "detect_within_intervals": DETECT_WITHIN,
            "detect_share": TARGET_SHARE,
        },
        "rows": [r.as_dict() for r in rows],
        "issue_targets": [dataclasses.asdict(t) for t in found],
    }


HEADER = (
    "scenario",
    "plan",
    "req/s",
    "rule",
    "runs",
    "rolled back",
    "target",
    "met",
    "limit",
    "delay",
    "req@rb",
    "held",
    "promoted",
    "done",
    "in shadow",
    "shadow@rb",
    "harm",
    "minutes",
)
TARGET_HEADER = ("target", "figure", "want", "ceiling / floor / budget", "result")


def _target_cells(t: Any) -> list[str]:
    return [t.name, t.figure, t.want, t.ceiling, "PASS" if t.met else "MISS"]


def _cells(r: Any) -> list[str]:
    share = r.within_target / r.runs
    if r.scenario.startswith("aa"):
        target = f"false rb {r.rolled_back / r.runs:.1%} (<= {r.rolled_back_upper95:.1%})"
    elif r.target_met is None:
        target = f"rb at bound {r.rolled_back / r.runs:.1%}"
    else:
        target = f"<=2 iv {share:.0%}"
    delay = "-" if r.median_delay is None else f"{r.median_delay:.1f}"
    at_rb = "-" if r.median_requests_at_rollback is None else f"{r.median_requests_at_rollback:.0f}"
    at_shadow = r.median_shadow_at_rollback
    return [
        r.scenario,
        r.plan,
        f"{r.rate:g}",
        r.rule,
        str(r.runs),
        f"{r.rolled_back}/{r.runs}",
        target,
        {True: "yes", False: "NO", None: "-"}[r.target_met],
        "-" if r.limit is None else f"{r.limit:.0%}",
        delay,
        at_rb,
        str(r.held),
        str(r.promoted),
        str(r.completed),
        str(r.rolled_back_in_shadow) if r.plan == "shadow" else "-",
        "-" if at_shadow is None else f"{at_shadow:.0f}",
        "-" if r.harm is None else f"{r.harm:.1f}",
        f"{r.median_minutes:.0f}",
    ]


def _footer(settings: Any, seconds: float) -> str:
    plan = settings.plan
    return (
        "\ntarget: A/A false rollbacks <= 1% of ramps (<=: 95% upper bound); a regression rolled"
        " back within 2 intervals of the candidate's 500th request in >= 90% of runs."
        "\nlimit: the most any rule could roll back by then while failing at most 1% of A/A"
        " ramps (Neyman-Pearson, for rates; rollout/simulate/limit.py)."
        "\ndelay: median intervals from the 500th candidate request to the rollback (0: before"
        " it); req@rb: median candidate requests at the rollback; held: still ramping or"
        " holding at the horizon; promoted: left the first stage; minutes: median simulated"
        " minutes per run; in shadow: rolled back in the shadow phase (no user saw it);"
        " shadow@rb: median shadow requests then; harm: mean bad answers users received"
        " because of the candidate (live requests x how much worse its rate is)."
        f"\nshadow plan: {settings.mirror.share:.0%} of the baseline's requests mirrored,"
        f" {settings.mirror.noise_share:.0%} of those with a noise call,"
        f" mirror path errors +{settings.mirror.extra_errors:g}."
        f"\nplan: stages {', '.join(f'{s.percent:g}%' for s in plan.stages)},"
        f" interval {plan.evaluation_interval:g}s,"
        f" breach at {plan.confidence.rollback:g} for {plan.rollback_after} looks;"
        f" {_regression_words(plan)}; seed {settings.seed}; {seconds:.0f}s."
    )


def _regression_words(plan: Any) -> str:
    test = plan.regression_test
    if test is None:
        return "no regression test"
    return f"regression test at {test.requests} requests, false alarm {test.false_alarm:g}"
