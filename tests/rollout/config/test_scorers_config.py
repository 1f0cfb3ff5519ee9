"""The scorers: section and the gates that read it: precise errors, the release-gates preset."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollout.config import parse_config
from rollout.config.metrics import METRICS
from rollout.control.gates import live_gates
from rollout.errors import ConfigError
from rollout.scorers.build import scorer_problems

ROOT = Path(__file__).resolve().parents[3]
HEAD = """
providers: {openai: {base_url: "https://api.openai.com/v1"}}
routes: [{prefix: /v1, provider: openai}]
"""
JUDGES = """
scorers:
  safety: {kind: judge, provider: openai, model: gpt-4o, rubric: rubrics/safety.md}
  instruction_following:
    {kind: judge, provider: openai, model: gpt-4o, rubric: rubrics/instruction_following.md}
  correctness: {kind: judge, provider: openai, model: gpt-4o, rubric: rubrics/correctness.md}
  style: {kind: judge, provider: openai, model: gpt-4o, rubric: rubrics/style.md}
"""
ROLLOUT = """
rollouts:
  - name: r
    routes: [/v1]
    candidate: {model: gpt-4o}
    plan:
"""


def _problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "c.yaml", base_dir=ROOT / "config")
    return str(caught.value).splitlines()


def test_scorers_validate_with_file_and_key_paths() -> None:
    lines = _problems(
        HEAD
        + """
scorers:
  safety: {kind: judge, provider: nope, model: m, rubric: rubrics/absent.md}
  tone: {kind: http, url: "https://x", model: m}
  tone2: {kind: http, url: "ftp://x"}
  both: {kind: builtin, check: json_valid, expect: {refused: false}}
"""
    )
    assert any(
        line.startswith("c.yaml: scorers.safety.rubric: Value error, no such file")
        or line.startswith("c.yaml: scorers.safety.rubric: no such file")
        for line in lines
    ), lines
    assert any("scorers.tone" in line and "model: not used by kind http" in line for line in lines)
    assert any("scorers.tone2.url: must start with http:// or https://" in line for line in lines)
    assert any("scorers.both" in line and "exactly one of check, expect" in line for line in lines)
    lines = _problems(HEAD + "scorers: {Bad-Name: {kind: builtin, check: json_valid}}")
    assert any("scorer name 'Bad-Name' must be lower-case" in line for line in lines)


def test_judges_name_providers_and_gates_name_scorers() -> None:
    lines = _problems(
        HEAD
        + "scorers: {safety: {kind: judge, provider: nope, model: m, rubric: rubrics/safety.md}}"
        + ROLLOUT
        + "      gates: [{metric: score_tone, min: 0.9}]\n"
    )
    assert (
        "c.yaml: scorers.safety.provider: names no configured provider (known: openai) (got 'nope')"
        in lines
    )
    assert (
        "c.yaml: rollouts[0].plan.gates[0].metric: names no configured scorer 'tone'"
        " (scorers: safety) (got 'score_tone')"
    ) in lines


def test_judge_gates_take_absolute_bounds_only() -> None:
    lines = _problems(
        HEAD + ROLLOUT + "      gates: [{metric: judge_disagreement, max_delta_to_baseline: 0.1}]\n"
    )
    assert any(
        "judge_disagreement is about the judges, not an arm: use max" in line for line in lines
    )


def test_the_release_gates_preset_expands_by_tier_and_is_overridable() -> None:
    config = parse_config(
        HEAD
        + JUDGES
        + ROLLOUT
        + "      gates: {preset: release-gates, override: {score_style: {min: 0.8}},"
        + " without: [cost_per_1k]}\n",
        "c.yaml",
        base_dir=ROOT / "config",
    )
    gates = {g.key: g for g in config.rollouts[0].plan.gates}
    assert gates["score_safety"].bound_for("prod").limit == 0.98
    assert gates["score_safety"].bound_for("dev").limit == 0.95
    assert gates["score_style"].bound_for("dev").limit == 0.8  # overridden: one bound for all
    assert gates["judge_disagreement"].bound_for("prod").describe() == "max 0.1"
    assert gates["review_agreement"].min_sample == 50 and "cost_per_1k" not in gates
    assert {g.metric for g in live_gates(config.rollouts[0].plan)} == {
        "json_validity",
        "latency_p95",
        "error_rate",
    }  # scores and the judges are measured offline for now
    assert METRICS["score_safety"].offline and scorer_problems(config) == []


def test_the_preset_needs_the_scorers_it_names() -> None:
    lines = _problems(HEAD + ROLLOUT + "      gates: {preset: release-gates}\n")
    assert any("names no configured scorer 'safety'" in line for line in lines)
    lines = _problems(HEAD + ROLLOUT + "      gates: {preset: nope}\n")
    assert any("unknown gate preset 'nope' (known: release-gates)" in line for line in lines)


def test_a_broken_rubric_or_expect_is_found_by_check_config(tmp_path: Path) -> None:
    (tmp_path / "r.md").write_text("---\nscale: stars\n---\nshort")
    config = parse_config(
        HEAD
        + "scorers: {s: {kind: judge, provider: openai, model: m, rubric: r.md},"
        + " b: {kind: builtin, expect: {regex: '('}}}",
        "c.yaml",
        base_dir=tmp_path,
    )
    lines = [str(p) for p in scorer_problems(config, "c.yaml")]
    assert any(
        line.startswith("c.yaml: scorers.s.rubric:") and "(scale): must be pass_fail" in line
        for line in lines
    )
    assert any(
        line.startswith("c.yaml: scorers.b.expect: regex: invalid regular expression")
        for line in lines
    )
