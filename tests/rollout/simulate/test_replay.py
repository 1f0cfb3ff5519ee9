"""`rollout simulate`: synthetic streams, the replay through decide(), the Flagger-style rule, and
the command's output. Small seeded runs: each test takes well under a few seconds."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from rollout.cli.main import main
from rollout.config.plan import Plan
from rollout.control.snapshot import Snapshot, window_snapshot
from rollout.simulate.flagger import FlaggerRule, Threshold
from rollout.simulate.replay import Horizon, RunResult, Window, replay_decide, replay_flagger
from rollout.simulate.report import Row, Settings, default_plan, shadow_plan, simulate
from rollout.simulate.streams import (
    BASELINE,
    SCENARIOS,
    ArmModel,
    Mirror,
    Stream,
    _histogram,
    arm_bucket,
)
from rollout.simulate.targets import requests_for_power, targets
from rollout.stats.histogram import LogHistogram

PLAN = default_plan()


def _fields(snap: Snapshot) -> dict:
    """A snapshot as comparable plain values (histograms by their fields)."""
    plain = {k: getattr(snap, k) for k in Snapshot.__slots__ if k not in ("duration", "ttft")}
    return {
        **plain,
        "duration": snap.duration.to_fields("d"),
        "ttft": snap.ttft.to_fields("t"),
    }


def test_the_window_equals_the_controllers_window_snapshot() -> None:
    cursor = Stream(BASELINE, SCENARIOS["p95+30%"].candidate, 30.0, (4, 2)).cursor()
    buckets = [cursor.next_bucket(0.25) for _ in range(12)]
    window = Window().add(buckets[:5]).add(buckets[5:])
    got, want = window.snapshot(), window_snapshot(buckets)
    for arm in ("baseline", "candidate", "shadow"):
        assert _fields(getattr(got, arm)) == _fields(getattr(want, arm)), arm
    assert got.candidate.requests > 0 and len(got.candidate.cost_batches) == 12


def test_the_streams_histogram_equals_adding_each_value() -> None:
    values = np.random.default_rng(5).lognormal(0.0, 1.5, 3000)
    one_by_one = LogHistogram()
    for v in values.tolist():
        one_by_one.add(v)
    binned = _histogram(values)
    assert binned.bucket_counts() == one_by_one.bucket_counts()
    assert binned.count == 3000


def test_a_bucket_draws_the_models_rates() -> None:
    model = ArmModel(error_rate=0.05, refusal_rate=0.10, cost_median=0.002, cost_sigma=0.5)
    fields = arm_bucket(model, 20_000.0, np.random.default_rng(1), "candidate")
    n = fields["candidate:live:requests"]
    assert n == pytest.approx(200_000, rel=0.01)  # 20k/s over a 10 s bucket
    assert fields["candidate:live:errors"] / n == pytest.approx(0.05, abs=0.002)
    assert fields["candidate:live:refusals"] / n == pytest.approx(0.10, abs=0.002)
    priced = fields["candidate:live:priced"]
    assert priced == n - fields["candidate:live:errors"]
    per_1k = 1000 * fields["candidate:live:cost_usd"] / priced
    assert per_1k == pytest.approx(model.cost_per_1k, rel=0.01)
    p95 = LogHistogram.from_fields("candidate:live:duration", fields).quantile(0.95)
    assert p95 == pytest.approx(model.quantile(0.95), rel=0.03)


def test_the_same_seed_gives_the_same_stream_and_another_seed_another() -> None:
    def first(seed: tuple[int, ...]) -> list[dict]:
        cursor = Stream(BASELINE, BASELINE, 50.0, seed).cursor()
        return [cursor.next_bucket(0.05) for _ in range(3)]

    assert first((1, 1)) == first((1, 1))
    assert first((1, 1)) != first((1, 2))


@pytest.mark.parametrize("run", range(4))
def test_aa_ramps_complete_without_a_rollback(run: int) -> None:
    stream = Stream(BASELINE, SCENARIOS["aa"].candidate, 100.0, (0, run))
    result = replay_decide(PLAN, stream, Horizon())
    assert result.outcome == "complete", result.reason
    assert result.stage == 100.0
    # 5 stages of >= 300 s and a 600 s bake, one look a minute
    assert result.looks >= 4 * 5 + 10 + 1


@pytest.mark.parametrize("run", range(3))
def test_an_error_regression_of_20_points_is_rolled_back(run: int) -> None:
    stream = Stream(BASELINE, SCENARIOS["errors+20pp"].candidate, 100.0, (0, run))
    result = replay_decide(PLAN, stream, Horizon(after_500=10))
    assert result.outcome == "rolled_back"
    assert result.reason.startswith("gross regression: errors")
    assert result.stage == 1.0
    assert result.delay(PLAN.evaluation_interval) <= 2


def _bucket(requests: int, errors: int = 0, duration: float = 1.0) -> dict[str, float]:
    """A hand-written candidate bucket: `requests` calls of `duration`, `errors` failing."""
    hist = LogHistogram()
    hist.add(duration, requests)
    ok = requests - errors
    fields = {
        "candidate:live:requests": requests,
        "candidate:live:errors": errors,
        "candidate:live:priced": ok,
        "candidate:live:cost_usd": 0.001 * ok,
    }
    return {**fields, **hist.to_fields("candidate:live:duration")} if requests else {}


class _Scripted:
    """A stream whose buckets are given, one per look (interval = one bucket)."""

    def __init__(self, buckets: list[dict[str, float]]) -> None:
        self.buckets = buckets
        self.weights: list[float] = []

    def cursor(self) -> _Scripted:
        return self

    def next_bucket(self, weight: float) -> dict[str, float]:
        self.weights.append(weight)
        return self.buckets[len(self.weights) - 1]


FAST = Plan.model_validate(
    {
        "stages": [10, 100],
        "min_duration": 20,
        "bake_time": 20,
        "evaluation_interval": 10,
        "gates": [{"metric": "error_rate", "max_delta_to_baseline": 0.01}],
    }
)
RULE = FlaggerRule((Threshold("error_rate", 0.02, True),), failed_checks=2)
GOOD, BAD, EMPTY = _bucket(100), _bucket(100, errors=5), _bucket(0)


@pytest.mark.parametrize(
    ("buckets", "outcome", "looks", "weights", "reason"),
    [
        # two passing looks (20 s) promote to 100%, two more bake it
        ([GOOD] * 4, "complete", 4, [0.1, 0.1, 1.0, 1.0], "baked at 100%"),
        # failed checks add up, even across a passing look that promoted
        ([BAD, GOOD, BAD], "rolled_back", 3, [0.1, 0.1, 1.0], "failed check 2 of 2: error_rate"),
        # no candidate traffic is a failed check (Flagger: "no values found")
        ([EMPTY, GOOD, EMPTY], "rolled_back", 3, [0.1, 0.1, 1.0], "failed check 2 of 2: no values"),
        # a failing look does not advance, the next passing one (stage old enough) does
        ([GOOD, BAD, GOOD, GOOD, GOOD], "complete", 5, [0.1, 0.1, 0.1, 1.0, 1.0], "baked"),
    ],
)
def test_the_flagger_rule_on_a_known_stream(
    buckets: list, outcome: str, looks: int, weights: list[float], reason: str
) -> None:
    stream = _Scripted(buckets)
    result = replay_flagger(FAST, RULE, stream, Horizon())  # type: ignore[arg-type]
    assert (result.outcome, result.looks) == (outcome, looks)
    assert stream.weights == weights
    assert result.reason.startswith(reason)


def test_flagger_thresholds_are_the_plans_bounds_on_the_true_baseline() -> None:
    rule = FlaggerRule.from_plan(PLAN, BASELINE)
    limits = {t.metric: t.limit for t in rule.thresholds}
    assert limits["error_rate"] == pytest.approx(0.02)  # 1% + 1 pp
    assert limits["refusal_rate"] == pytest.approx(0.04)  # 2% + 2 pp
    # 1.2 x the true p95 of a log-normal with median 1.2 s, sigma 0.5: 1.2 · 1.2 · e^(0.5 · 1.6449)
    assert limits["latency_p95"] == pytest.approx(1.44 * math.exp(0.5 * 1.644854), rel=1e-6)
    # 1.1 x 1000 x 0.0015 · e^(0.6² / 2)
    assert limits["cost_per_1k"] == pytest.approx(1.1 * 1.5 * math.exp(0.18), rel=1e-9)


@pytest.mark.parametrize(
    ("outcome", "end", "reached", "delay"),
    [
        ("rolled_back", 1200.0, 1080.0, 2.0),
        ("rolled_back", 600.0, None, -math.inf),  # before the 500th request
        ("complete", 1200.0, 100.0, None),
    ],
)
def test_delay_counts_intervals_from_the_500th_request(
    outcome: str, end: float, reached: float | None, delay: float | None
) -> None:
    result = RunResult(outcome, end, 20, 1.0, reached, "", 600)  # type: ignore[arg-type]
    assert result.delay(60.0) == delay


def test_the_summary_is_deterministic_and_counts_the_rollbacks() -> None:
    settings = Settings(scenarios=("errors+20pp",), rates=(100.0,), regression_runs=3)
    rows = simulate(settings)
    assert rows == simulate(settings)
    decide_row, flagger_row = rows
    assert (decide_row.rule, flagger_row.rule) == ("decide", "flagger")
    assert decide_row.rolled_back == decide_row.within_target == 3 and decide_row.target_met
    assert flagger_row.rolled_back == 3


ARGS = ["simulate", "--runs", "2", "--regression-runs", "2", "--rates", "100"]


def test_the_command_prints_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*ARGS, "--scenarios", "aa,errors+20pp"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:5] == ["scenario", "plan", "req/s", "rule", "runs"]
    rows = [line.split() for line in lines[1:5]]
    assert [(r[0], r[3]) for r in rows] == [
        ("aa", "decide"),
        ("aa", "flagger"),
        ("errors+20pp", "decide"),
        ("errors+20pp", "flagger"),
    ]
    assert rows[0][5] == "0/2" and rows[2][5] == "2/2"
    assert any(line.startswith("target:") for line in lines)
    # the targets, each with PASS or MISS and what it is held to
    harm = next(line for line in lines if line.startswith("errors+20pp @ 100/s harm (live)"))
    assert "floor 12.0 (first look)" in harm and harm.split()[-1] in ("PASS", "MISS")


def test_the_command_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    args = [*ARGS, "--scenarios", "errors+20pp", "--rollback-after", "3", "--json"]
    assert main(args) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["settings"]["plan"]["rollback_after"] == 3
    assert body["targets"]["aa_max_false_rollback"] == 0.01
    rows = {r["rule"]: r for r in body["rows"]}
    assert rows["decide"]["rolled_back"] == 2 and rows["decide"]["scenario"] == "errors+20pp"
    assert rows["flagger"]["runs"] == 2


def test_the_command_explains_itself(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["simulate", "--help"])
    assert exit_info.value.code == 0
    assert "p95+30%" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scenarios", "nope"], "unknown scenario nope"),
        (["--rates", "0"], "rates must be > 0"),
        (["--runs", "-1"], "must be > 0"),
    ],
)
def test_bad_options_are_one_clear_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["simulate", *args])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_an_impossible_rollback_confidence_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*ARGS, "--scenarios", "aa", "--rollback-confidence", "1.5"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("cannot simulate:") and "Traceback" not in err


def test_the_shadow_phase_mirrors_the_baselines_requests_to_both_roles() -> None:
    cursor = Stream(BASELINE, SCENARIOS["errors+20pp"].candidate, 1000.0, (3, 1)).cursor()
    buckets = [cursor.next_bucket(0.0, Mirror(share=0.1, noise_share=0.5)) for _ in range(20)]
    snap = Window().add(buckets).snapshot()
    assert snap.candidate.requests == 0  # nobody is served by the candidate
    assert snap.shadow.requests == pytest.approx(20_000, rel=0.03)  # 10% of 1000/s x 200 s
    assert snap.noise.requests == pytest.approx(10_000, rel=0.04)
    assert snap.shadow.errors / snap.shadow.requests == pytest.approx(0.21, abs=0.01)
    assert snap.noise.errors / snap.noise.requests == pytest.approx(0.01, abs=0.004)
    # the live draws are the same with or without the mirror: the rules see the same users
    plain = Stream(BASELINE, SCENARIOS["errors+20pp"].candidate, 1000.0, (3, 1)).cursor()
    live = plain.next_bucket(0.0)
    assert {k: v for k, v in buckets[0].items() if ":live:" in k} == live


def test_a_mirror_path_with_its_own_failures_adds_them_to_both_shadow_roles() -> None:
    cursor = Stream(BASELINE, BASELINE, 1000.0, (3, 2)).cursor()
    mirror = Mirror(share=0.2, noise_share=1.0, extra_errors=0.05)
    snap = Window().add([cursor.next_bucket(0.0, mirror) for _ in range(20)]).snapshot()
    for role in (snap.shadow, snap.noise):
        assert role.errors / role.requests == pytest.approx(0.06, abs=0.006)
    assert snap.baseline.errors / snap.baseline.requests == pytest.approx(0.01, abs=0.002)


def test_a_bursty_arm_is_over_dispersed_between_buckets() -> None:
    def spread(model: ArmModel) -> float:
        rng = np.random.default_rng(7)
        rates = []
        for _ in range(300):
            fields = arm_bucket(model, 100.0, rng, "candidate")
            rates.append(fields["candidate:live:errors"] / fields["candidate:live:requests"])
        return float(np.var(rates))

    plain, bursty = spread(BASELINE), spread(SCENARIOS["aa-bursty"].candidate)
    assert plain == pytest.approx(0.01 * 0.99 / 1000, rel=0.3)  # binomial
    assert bursty > 5 * plain  # gamma-mixed: var ~ p^2 * burst on top


@pytest.mark.parametrize("run", range(2))
def test_a_gross_regression_is_rolled_back_in_shadow_before_any_user_sees_it(run: int) -> None:
    stream = Stream(BASELINE, SCENARIOS["errors+20pp"].candidate, 10.0, (0, run))
    result = replay_decide(shadow_plan(PLAN), stream, Horizon(after_500=10))
    assert result.outcome == "rolled_back" and result.in_shadow
    assert result.candidate_requests == 0 and result.shadow_requests > 0
    assert result.stage == 0.0


def test_harm_counts_bad_answers_users_received_and_shadow_rows_say_so() -> None:
    settings = Settings(
        scenarios=("errors+20pp",), rates=(10.0,), regression_runs=2, plans=("live", "shadow")
    )
    live, _flagger, shadow = simulate(settings)
    assert (live.plan, shadow.plan, shadow.rule) == ("live", "shadow", "decide")
    assert live.harm is not None and 0 < live.harm <= 8  # a few dozen live requests x 0.2
    assert shadow.harm == 0.0 and shadow.rolled_back_in_shadow == 2
    assert shadow.median_shadow_at_rollback is not None


def _row(scenario: str, plan: str, **more: object) -> Row:
    base = dict(
        scenario=scenario,
        rate=10.0,
        rule="decide",
        runs=100,
        rolled_back=0,
        completed=0,
        held=0,
        within_target=0,
        rolled_back_upper95=0.0,
        median_delay=None,
        median_requests_at_rollback=None,
        median_minutes=1.0,
        target_met=None,
        plan=plan,
    )
    return Row(**{**base, **more})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("row", "name", "met"),
    [
        (_row("aa", "live", rolled_back=1), "aa false rollbacks (live)", True),
        (_row("aa", "live", rolled_back=2), "aa false rollbacks (live)", False),
        (_row("aa-bursty", "live", rolled_back=2), "aa-bursty false rollbacks (live)", True),
        (
            _row("errors+2pp", "shadow", rolled_back_in_shadow=95, median_shadow_at_rollback=1e3),
            "errors+2pp @ 10/s shadow requests at rollback",
            True,
        ),
        (
            _row("errors+2pp", "shadow", rolled_back_in_shadow=94),
            "errors+2pp @ 10/s rolled back in shadow",
            False,
        ),
        # 77.8% is the ceiling at 10/s and the error gate's 0.3% (0.9% by need): 95% is 73.9%
        (_row("errors+2pp", "live", within_target=74), "errors+2pp @ 10/s power", True),
        (_row("errors+2pp", "live", within_target=73), "errors+2pp @ 10/s power", False),
        (_row("errors+20pp", "live", harm=8.0), "errors+20pp @ 10/s harm (live)", True),
        (_row("errors+2pp", "live", harm=10.5), "errors+2pp @ 10/s harm (live)", False),
        (_row("errors+1pp", "live", rolled_back=50), "errors+1pp @ 10/s rolled back", True),
        (_row("errors+0.5pp", "live", rolled_back=6), "errors+0.5pp @ 10/s rolled back", False),
        (_row("p95+30%", "live", promoted=1), "regressions promoted past", True),
        (_row("p95+30%", "live", promoted=2), "regressions promoted past", False),
    ],
)
def test_each_target_is_pass_or_miss_against_its_bound(row: Row, name: str, met: bool) -> None:
    found = [t for t in targets([row], PLAN) if t.name.startswith(name)]
    assert len(found) == 1 and found[0].met is met, found


def test_the_shadow_floor_is_the_fewest_requests_for_95_percent_power() -> None:
    n = requests_for_power(0.01, 0.03, 0.0025)
    from rollout.simulate.limit import ceiling

    assert ceiling(0.01, 0.03, n, 0.0025) >= 0.95 > ceiling(0.01, 0.03, n - 1, 0.0025)


@pytest.mark.parametrize(
    ("reason", "rule"),
    [
        ("catastrophe: 5 of 5 candidate requests failed (100% >= 90%)", "catastrophe"),
        ("gross regression: errors 6/30 since the first stage", "gross"),
        ("error_rate: shadow test at 2000 shadow requests against 2000", "shadow test"),
        ("error_rate: regression test at 503 candidate requests: error_rate", "test"),
        ("latency_p95 failed 2 looks: candidate / baseline latency_p95", "breach"),
    ],
)
def test_each_rollback_is_put_down_to_its_rule(reason: str, rule: str) -> None:
    from rollout.simulate.report import rule_of

    assert rule_of(reason) == rule


PLAN_FILE = """
providers: {p: {base_url: 'http://127.0.0.1:9/v1'}}
routes: [{prefix: /v1, provider: p}]
rollouts:
  - name: summarise
    candidate: {model: m2}
    shadow: {share: 0.1, noise_share: 0.5}
    plan:
      automatic: true
      shadow: {duration: 600, min_requests: 100, test_requests: 2000}
      gates:
        - {metric: error_rate, max_delta_to_baseline: 0.01}
        - {metric: latency_p95, max_ratio_to_baseline: 1.2}
"""


def test_the_plan_says_what_the_shadow_test_needs(
    tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "c.yaml"
    path.write_text(PLAN_FILE)
    assert main(["simulate", "--plan", str(path), "--rates", "10", "--json"]) == 0
    errors, p95 = json.loads(capsys.readouterr().out)["summarise"]
    # 0.9% (1%, less the gross rule's 0.1%) by need: errors 2 parts of 3, p95 1
    assert errors["share"] == pytest.approx(0.006) and p95["share"] == pytest.approx(0.003)
    assert (errors["baseline"], errors["regression"]) == (0.01, pytest.approx(0.03))
    assert 1000 < errors["needed"] < 2000 and errors["power"] > 0.9
    # the noise arm (half the mirrored calls, 0.5/s at 10/s) reaches 2000 in 4000 s
    assert errors["minutes"]["10.0"] == pytest.approx(4000 / 60)
    assert p95["needed"] is None
