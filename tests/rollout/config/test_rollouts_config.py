"""Rollout configs: valid ones get defaults and a version; invalid ones say what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollout.config import parse_config
from rollout.errors import ConfigError

BASE = """providers:
  oa: {base_url: 'http://127.0.0.1:9/v1'}
  oa2: {base_url: 'http://127.0.0.1:9/v1'}
  claude: {kind: anthropic, base_url: 'http://127.0.0.1:9'}
routes:
  - {prefix: /v1, provider: oa}
  - {prefix: /anthropic, provider: claude}
"""


def _errors(text: str, base_dir: Path | str = ".") -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(BASE + text, "bad.yaml", base_dir=base_dir)
    return str(info.value).splitlines()


def test_prompt_file_is_read_relative_to_the_config_and_changes_the_version(
    tmp_path: Path,
) -> None:
    (tmp_path / "prompts").mkdir()
    prompt = tmp_path / "prompts" / "p.md"
    text = """rollouts:
  - name: r
    routes: [/v1]
    candidate: {model: m, prompt: {file: prompts/p.md}}
"""
    prompt.write_text("Be brief.")
    first = parse_config(BASE + text, "ok.yaml", base_dir=tmp_path).rollouts[0]
    assert first.candidate.prompt is not None
    assert (first.candidate.prompt.text, first.candidate.prompt.mode) == ("Be brief.", "replace")
    assert (first.weight, first.bucket_salt, first.subject[0]) == (0.0, "r", "body:user")
    prompt.write_text("Be very brief.")
    second = parse_config(BASE + text, "ok.yaml", base_dir=tmp_path).rollouts[0]
    assert first.version != second.version  # the prompt is part of the release
    ramped = parse_config(
        BASE + text.replace("routes: [/v1]", "routes: [/v1]\n    weight: 0.5"),
        "ok.yaml",
        base_dir=tmp_path,
    ).rollouts[0]
    assert ramped.version == second.version  # the weight is not


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "rollouts: [{name: r, candidate: {model: m},"
            " plan: {gates: [{metric: disagreement_text, max_delta_to_baseline: 0.05}]}}]",
            [
                "bad.yaml: rollouts[0]: gate 'disagreement_text' judges shadow pairs: the rollout"
                " needs a `shadow` section (mirroring) and `plan.shadow` (the phase in which pairs"
                " are judged) (got {'name': 'r', 'candidate': {'model': 'm'}, 'plan': {'gates':"
                " [{'metric': 'dis...)"
            ],
        ),
        (
            "rollouts: [{name: r, candidate: {model: m}, shadow: {share: 2, per: user,"
            " max_cpu: 2}}]",
            [
                "bad.yaml: rollouts[0].shadow.share: Input should be less than or equal to 1"
                " (got 2)",
                "bad.yaml: rollouts[0].shadow.per: Input should be 'subject' or 'request'"
                " (got 'user')",
                "bad.yaml: rollouts[0].shadow.max_cpu: Input should be less than or equal to 1"
                " (got 2)",
            ],
        ),
        (
            "rollouts: [{name: r, candidate: {provider: nope}}]",
            [
                "bad.yaml: rollouts[0].candidate.provider: names no configured provider"
                " (known: claude, oa, oa2) (got 'nope')"
            ],
        ),
        (
            "rollouts: [{name: r, candidate: {provider: claude}}]",
            [
                "bad.yaml: rollouts[0].candidate.provider: is an anthropic provider but requests"
                " on route /v1 speak openai (limit the routes this applies to) (got 'claude')"
            ],
        ),
        (
            "rollouts: [{name: r, routes: [/v2], candidate: {model: m}}]",
            [
                "bad.yaml: rollouts[0].routes[0]: names no configured route prefix"
                " (known: /anthropic, /v1) (got '/v2')"
            ],
        ),
        (
            "rollouts: [{name: r, routes: [/v1], candidate: {provider: oa2}},"
            " {name: r, routes: [/v1], candidate: {model: m}}]",
            ["bad.yaml: rollouts[1].name: duplicate name (got 'r')"],
        ),
        (
            "rollouts: [{name: R!, candidate: {model: m}}]",
            [
                "bad.yaml: rollouts[0].name: String should match pattern"
                " '^[a-z0-9][a-z0-9_.-]{0,62}$' (got 'R!')"
            ],
        ),
        (
            "rollouts: [{name: r, weight: 1.5, candidate: {model: m}}]",
            ["bad.yaml: rollouts[0].weight: Input should be less than or equal to 1 (got 1.5)"],
        ),
        (
            "rollouts: [{name: r, subject: [cookie:sid], candidate: {model: m}}]",
            [
                "bad.yaml: rollouts[0].subject: unknown subject source 'cookie:sid':"
                " use header:<name>, body:<field.path> or api_key (got ['cookie:sid'])"
            ],
        ),
        (
            "rollouts: [{name: r, candidate: {params: {model: x}}}]",
            [
                "bad.yaml: rollouts[0].candidate.params: may not set model"
                " (use model / prompt) (got {'model': 'x'})"
            ],
        ),
        (
            "rollouts: [{name: r}]",
            ["bad.yaml: rollouts[0].candidate: required key is missing"],
        ),
        (
            "store: {window_bucket_seconds: 0}",
            [
                "bad.yaml: store.window_bucket_seconds: Input should be greater than or equal"
                " to 1 (got 0)"
            ],
        ),
        (
            "store: {window_bucket_seconds: 1.5}",
            [
                "bad.yaml: store.window_bucket_seconds: Input should be a valid integer, got a"
                " number with a fractional part (got 1.5)"
            ],
        ),
        (
            "store: {redis_url: 'http://x'}",
            [
                "bad.yaml: store.redis_url: must start with redis://, rediss:// or unix://"
                " (got 'http://x')"
            ],
        ),
    ],
)
def test_invalid_rollouts_are_rejected_exactly(text: str, expected: list[str]) -> None:
    assert _errors(text) == expected


def test_missing_prompt_file(tmp_path: Path) -> None:
    errors = _errors(
        "rollouts: [{name: r, candidate: {prompt: {file: prompts/gone.md}}}]", tmp_path
    )
    assert errors == [
        f"bad.yaml: rollouts[0].candidate.prompt: cannot read prompt file"
        f" {tmp_path}/prompts/gone.md: No such file or directory"
        f" (got {{'file': 'prompts/gone.md'}})"
    ]
