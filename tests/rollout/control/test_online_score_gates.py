"""Score gates judged live: a rollout with `scoring:` makes its score_<name> gates live (the
controller judges them on the windows' score fields); without it they stay offline."""

from __future__ import annotations

import pytest

from rollout.config.load import parse_config
from rollout.control.gates import evaluate_gates, live_gates
from rollout.control.snapshot import window_snapshot
from rollout.control.windows import WindowAggregator
from rollout.errors import ConfigError

BASE = """
providers: {fake: {base_url: "http://127.0.0.1:1/v1"}}
routes: [{prefix: /v1, provider: fake}]
scorers:
  no_refusal: {kind: builtin, expect: {refused: false}}
  valid_json: {kind: builtin, check: json_valid}
rollouts:
  - name: r
    candidate: {model: c}
    plan:
      gates:
        - {metric: score_no_refusal, min: 0.9, min_sample: 20}
        - {metric: score_valid_json, max_delta_to_baseline: 0.05, min_sample: 20}
        - {metric: error_rate, max_delta_to_baseline: 0.05}
"""


def rollout_plan(scoring: str = ""):
    config = parse_config(BASE + scoring, "c.yaml")
    return config.rollouts[0].plan


def test_score_gates_are_live_only_for_the_scorers_scored_online() -> None:
    assert [g.metric for g in live_gates(rollout_plan())] == ["error_rate"]
    plan = rollout_plan("    scoring: {scorers: [no_refusal], sample: 0.5}\n")
    assert [g.metric for g in live_gates(plan)] == ["score_no_refusal", "error_rate"]


def test_scoring_names_configured_scorers() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(BASE + "    scoring: {scorers: [safety]}\n", "c.yaml")
    assert "rollouts[0].scoring.scorers[0]: names no configured scorer" in str(caught.value)


def test_scoring_must_sample_something() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(BASE + "    scoring: {scorers: [no_refusal], sample: 0}\n", "c.yaml")
    assert "nothing would be scored" in str(caught.value)


def test_the_windows_scores_judge_the_gate() -> None:
    plan = rollout_plan("    scoring: {scorers: [no_refusal, valid_json]}\n")
    windows = WindowAggregator(10)
    for i in range(200):
        for arm in ("baseline", "candidate"):
            windows.add_score("r", arm, "live", "valid_json", 1.0, False, 5.0)
            # the candidate refuses one answer in three; a judge error counts as 0
            bad = arm == "candidate" and i % 3 == 0
            windows.add_score("r", arm, "live", "no_refusal", 0.0 if bad else 1.0, i == 1, 5.0)
    fields = windows.drain()[("r", 0)]
    snap = window_snapshot([fields])
    assert snap.candidate.score_count == {"no_refusal": 200, "valid_json": 200}
    results = {r.gate: r for r in evaluate_gates(plan, snap.baseline, snap.candidate)}
    assert results["score_no_refusal"].verdict == "fail"
    assert results["score_no_refusal"].candidate == pytest.approx(133 / 200)
    assert results["score_valid_json"].verdict == "pass"
    assert results["error_rate"].verdict == "no_data"
