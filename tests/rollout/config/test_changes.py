"""What a reload changes: settings that need a restart, the change list, the config hash."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollout.config import parse_config
from rollout.config.changes import (
    CONTROLLER_RESTART_ONLY,
    config_hash,
    describe_changes,
    restart_problems,
)
from rollout.config.model import Config

BASE = """
providers:
  p: {base_url: 'http://127.0.0.1:9/v1'}
routes:
  - {prefix: /v1, provider: p}
"""
ROLLOUT = """
rollouts:
  - name: r
    weight: 0.1
    candidate: {model: m2}
"""


def _config(text: str) -> Config:
    return parse_config(BASE + text, "c.yaml")


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("", []),
        (
            "listen: {port: 8081}",
            ["c.yaml: listen.port: cannot change without a restart (running: 8080) (got 8081)"],
        ),
        (
            "admin: {host: 0.0.0.0, token_env: T}",
            [
                "c.yaml: admin.host: cannot change without a restart (running: '127.0.0.1')"
                " (got '0.0.0.0')",
                "c.yaml: admin.token_env: cannot change without a restart"
                " (running: 'LLM_ROLLOUT_ADMIN_TOKEN') (got 'T')",
            ],
        ),
        (
            "store: {redis_url: 'redis://h:6379'}",
            [
                "c.yaml: store.redis_url: cannot change without a restart (running: None)"
                " (got 'redis://h:6379')"
            ],
        ),
        (
            "store: {window_bucket_seconds: 1}",
            [
                "c.yaml: store.window_bucket_seconds: cannot change without a restart"
                " (running: 10) (got 1)"
            ],
        ),
        ("limits: {max_body_bytes: 2048}", []),  # applied by a reload
    ],
)
def test_settings_that_need_a_restart_are_named(extra: str, expected: list[str]) -> None:
    problems = restart_problems(_config(""), _config(extra), "c.yaml")
    assert [str(p) for p in problems] == expected


def test_the_controller_process_needs_its_store_and_admin_port_kept() -> None:
    moved = _config("listen: {port: 8081}")  # the proxies' port: not the controller's
    assert restart_problems(_config(""), moved, "c.yaml", CONTROLLER_RESTART_ONLY) == []
    admin = restart_problems(
        _config(""), _config("admin: {port: 9091}"), "c.yaml", CONTROLLER_RESTART_ONLY
    )
    assert [str(p) for p in admin] == [
        "c.yaml: admin.port: cannot change without a restart (running: 9090) (got 9091)"
    ]


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (ROLLOUT, ROLLOUT, []),
        (ROLLOUT, ROLLOUT.replace("weight: 0.1", "weight: 0.3"), ["rollout r: weight changed"]),
        (
            ROLLOUT,
            ROLLOUT + "    plan: {stages: [10, 50, 100], min_duration: 60}\n",
            ["rollout r: plan changed (stages 1,5,25,50,100 -> 10,50,100; min_duration 300 -> 60)"],
        ),
        (
            ROLLOUT,
            ROLLOUT.replace("m2", "m3"),
            [
                f"rollout r: new version {_config(ROLLOUT).rollouts[0].version} ->"
                f" {_config(ROLLOUT.replace('m2', 'm3')).rollouts[0].version} (the candidate"
                " changed: a new rollout starts from the config's weight)"
            ],
        ),
        ("", ROLLOUT, [f"rollout r added (version {_config(ROLLOUT).rollouts[0].version})"]),
        (ROLLOUT, "", ["rollout r removed"]),
        (
            "",
            "providers:\n  p: {base_url: 'http://127.0.0.1:9/v2'}\n  q: {base_url: 'http://q/v1'}\n"
            "routes:\n  - {prefix: /v1, provider: q}\nlimits: {max_body_bytes: 2048}\n",
            ["limits changed", "provider q added", "provider p changed", "routes changed"],
        ),
        (
            "flags: [{name: f, then: {deny: {message: nope}}}]",
            "flags: [{name: f, enabled: false, then: {deny: {message: nope}}}]",
            ["flag f changed"],
        ),
    ],
    ids=["same", "weight", "plan", "candidate", "added", "removed", "providers", "flag"],
)
def test_changes_are_listed_one_per_line(before: str, after: str, expected: list[str]) -> None:
    # Later keys win in YAML: `after` may redefine providers and routes of BASE.
    assert describe_changes(_config(before), _config(after)) == expected


def test_the_hash_covers_prompt_texts(tmp_path: Path) -> None:
    (tmp_path / "p.md").write_text("Be brief.")
    text = BASE + "rollouts:\n  - {name: r, candidate: {prompt: {file: p.md}}}\n"
    first = parse_config(text, "c.yaml", base_dir=tmp_path)
    assert config_hash(parse_config(text, "c.yaml", base_dir=tmp_path)) == config_hash(first)
    (tmp_path / "p.md").write_text("Be thorough.")
    second = parse_config(text, "c.yaml", base_dir=tmp_path)
    assert config_hash(second) != config_hash(first)
    assert second.rollouts[0].version != first.rollouts[0].version
