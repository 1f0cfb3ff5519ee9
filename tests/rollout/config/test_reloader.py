"""ConfigReloader: a valid edit is applied and listed, anything wrong keeps the old config and
says file, key path and reason; the status tells which config runs and how the last try went."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollout.config import Config, load_config
from rollout.config.changes import config_hash
from rollout.config.reloader import ConfigReloader, ReloadResult
from rollout.errors import ConfigError, ConfigProblem

CONFIG = """
providers: {p: {base_url: 'http://127.0.0.1:9/v1'}}
routes: [{prefix: /v1, provider: p}]
rollouts:
  - name: r
    weight: 0.1
    candidate: {model: m2}
"""


class Target:
    """Stands for the process being reconfigured: records what it was given."""

    def __init__(self, refuse: list[ConfigProblem] | None = None) -> None:
        self.applied: list[Config] = []
        self.refuse = refuse

    async def __call__(self, config: Config) -> None:
        if self.refuse:
            raise ConfigError(self.refuse)
        self.applied.append(config)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    (tmp_path / "c.yaml").write_text(CONFIG)
    return tmp_path / "c.yaml"


def _reloader(path: Path, target: Target, results: list[ReloadResult]) -> ConfigReloader:
    return ConfigReloader(
        path, load_config(path), target, on_result=results.append, clock=lambda: 7.0
    )


async def test_a_valid_edit_is_applied_and_listed(path: Path) -> None:
    target, results = Target(), []
    reloader = _reloader(path, target, results)
    path.write_text(CONFIG.replace("weight: 0.1", "weight: 0.4"))
    result = await reloader.reload("file")
    assert (result.ok, result.changes, result.trigger) == (
        True,
        ("rollout r: weight changed",),
        "file",
    )
    assert [c.rollouts[0].weight for c in target.applied] == [0.4]
    assert reloader.hash == config_hash(target.applied[0]) == result.config_hash
    assert results == [result] and reloader.status()["last_error"] == []


async def test_an_unchanged_file_applies_nothing(path: Path) -> None:
    target, results = Target(), []
    result = await _reloader(path, target, results).reload("signal")
    assert (result.ok, result.changes, target.applied) == (True, (), [])


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            CONFIG.replace("weight: 0.1", "weight: 2"),
            "{path}: rollouts[0].weight: Input should be less than or equal to 1 (got 2)",
        ),
        (
            CONFIG + "    plan: {stages: [10, 5, 100]}\n",
            "{path}: rollouts[0].plan.stages: percents must be strictly increasing"
            " (got [10, 5, 100])",
        ),
        (
            CONFIG + "listen: {port: 9999}\n",
            "{path}: listen.port: cannot change without a restart (running: 8080) (got 9999)",
        ),
        (
            "routes: [: broken",
            "{path}: line 1, column 10: invalid YAML: expected the node content, but found ':'",
        ),
    ],
    ids=["value", "plan", "restart", "yaml"],
)
async def test_a_bad_edit_keeps_the_running_config(path: Path, text: str, problem: str) -> None:
    target, results = Target(), []
    reloader = _reloader(path, target, results)
    running = reloader.hash
    path.write_text(text)
    result = await reloader.reload("file")
    expected = problem.format(path=path)
    assert (result.ok, [str(p) for p in result.problems]) == (False, [expected])
    assert (target.applied, reloader.hash, result.config_hash) == ([], running, running)
    status = reloader.status()
    assert status["last_error"] == [expected] and status["last_reload"]["ok"] is False
    assert status["last_success_at"] is None and status["config_hash"] == running


async def test_a_refusal_by_the_process_keeps_the_running_config(path: Path) -> None:
    refusal = ConfigProblem(str(path), "providers", "environment variable K is not set")
    target, results = Target(refuse=[refusal]), []
    reloader = _reloader(path, target, results)
    running = reloader.hash
    path.write_text(CONFIG.replace("m2", "m3"))
    result = await reloader.reload("admin")
    assert (result.ok, result.problems, reloader.hash) == (False, (refusal,), running)
    # Fixed (the process accepts it now): the next try applies it.
    target.refuse = None
    assert (await reloader.reload("admin")).ok and reloader.hash != running


async def test_a_missing_file_is_an_error_not_a_crash(path: Path) -> None:
    target, results = Target(), []
    reloader = _reloader(path, target, results)
    path.unlink()
    result = await reloader.reload("file")
    assert [str(p) for p in result.problems] == [
        f"{path}: cannot read file: No such file or directory"
    ]


async def test_a_failure_of_the_process_is_reported_not_raised(path: Path) -> None:
    async def broken(_: Config) -> None:
        raise RuntimeError("no sessions left")

    reloader = ConfigReloader(path, load_config(path), broken)
    path.write_text(CONFIG.replace("m2", "m3"))
    result = await reloader.reload("signal")
    assert [str(p) for p in result.problems] == [
        f"{path}: reload failed: RuntimeError: no sessions left"
    ]
    assert reloader.running.rollouts[0].candidate.model == "m2"
