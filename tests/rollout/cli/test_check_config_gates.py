"""`rollout check-config` warns of a gate that can never get data as configured (a cost gate on
an unpriced model), and still accepts the config: a price may come from an override later."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollout.cli.main import main
from rollout.config import parse_config
from rollout.config.gate_warnings import gate_warnings

HEAD = """
providers: {up: {base_url: "http://127.0.0.1:9/v1"}}
routes: [{prefix: /v1, provider: up}]
"""


def rollout(candidate: str, gate: str, extra: str = "") -> str:
    return (
        HEAD
        + f"""
{extra}
rollouts:
  - name: cheap
    models: [gpt-4o]
    candidate: {{model: {candidate}}}
    plan: {{automatic: true, gates: [{gate}]}}
"""
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            rollout("my-finetune", "{metric: cost_per_1k, max: 4.0}"),
            [
                "rollouts[0] (cheap): gate 'cost_per_1k' can never decide: the candidate's"
                " model 'my-finetune' has no price (add it under observe.prices)"
            ],
        ),
        # priced by an override: no warning
        (
            rollout(
                "my-finetune",
                "{metric: cost_per_1k, max: 4.0}",
                "observe: {prices: {my-finetune: {input: 1, output: 2}}}",
            ),
            [],
        ),
        # a bound relative to the baseline also needs the baseline's model priced
        (
            rollout("gpt-4o-mini", "{metric: cost_per_1k, max_ratio_to_baseline: 1.1}").replace(
                "models: [gpt-4o]", "models: [house-model]"
            ),
            [
                "rollouts[0] (cheap): gate 'cost_per_1k' can never decide: the baseline's"
                " model 'house-model' has no price (add it under observe.prices)"
            ],
        ),
        # the baseline's model unknown (any model requested): the config cannot tell
        (
            rollout("gpt-4o-mini", "{metric: cost_per_1k, max_ratio_to_baseline: 1.1}").replace(
                "models: [gpt-4o]", "models: ['gpt-*']"
            ),
            [],
        ),
        (rollout("my-finetune", "{metric: error_rate, max: 0.1}"), []),
    ],
)
def test_gate_warnings(body: str, expected: list[str]) -> None:
    assert gate_warnings(parse_config(body)) == expected


def test_check_config_warns_and_accepts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(rollout("my-finetune", "{metric: cost_per_1k, max: 4.0}"))
    assert main(["check-config", str(path)]) == 0
    out, err = capsys.readouterr()
    assert err == (
        "warning: rollouts[0] (cheap): gate 'cost_per_1k' can never decide: the candidate's"
        " model 'my-finetune' has no price (add it under observe.prices)\n"
    )
    assert out.startswith(f"{path}: ok")
