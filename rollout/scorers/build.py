"""The configured scorers, built: what the config's shape check could not see (a rubric's
content, a builtin's `expect`) is checked here, every problem at once, as the config loader
reports them (`file: scorers.NAME.key: message (got value)`)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from rollout.config import Config
from rollout.config.scorers import ScorerConfig
from rollout.errors import ConfigError, ConfigProblem
from rollout.scorers.base import Complete, Scorer
from rollout.scorers.builtin import BuiltinScorer, builtin_check
from rollout.scorers.cache import VerdictCache
from rollout.scorers.http import HttpScorer
from rollout.scorers.judge import JudgeModel, JudgeScorer
from rollout.scorers.rubric import Rubric, RubricError, load_rubric


def scorer_problems(config: Config, name: str = "<config>") -> list[ConfigProblem]:
    """Everything wrong with the scorers that only their own code can tell."""
    problems: list[ConfigProblem] = []
    for scorer, spec in config.scorers.items():
        where = f"scorers.{scorer}"
        for key, path in (("rubric", spec.rubric), ("second.rubric", _second_rubric(spec))):
            if path is not None:
                try:
                    load_rubric(path)
                except RubricError as exc:
                    problems += [_in(name, f"{where}.{key}", p) for p in exc.problems]
        if spec.expect is not None:
            try:
                builtin_check(None, spec.expect)
            except ValueError as exc:
                problems.append(ConfigProblem(name, f"{where}.expect", str(exc)))
    return problems


def build_scorers(
    config: Config,
    complete: Complete,
    cache: VerdictCache | None = None,
    environ: Mapping[str, str] = os.environ,
    name: str = "<config>",
) -> dict[str, Scorer]:
    """Every configured scorer, by name; ConfigError when one cannot be built."""
    problems = scorer_problems(config, name)
    if problems:
        raise ConfigError(problems)
    return {
        scorer: _build(config, scorer, spec, complete, cache, environ)
        for scorer, spec in config.scorers.items()
    }


def _build(
    config: Config,
    name: str,
    spec: ScorerConfig,
    complete: Complete,
    cache: VerdictCache | None,
    environ: Mapping[str, str],
) -> Scorer:
    if spec.kind == "builtin":
        return BuiltinScorer(name, builtin_check(spec.check, spec.expect))
    if spec.kind == "http":
        assert spec.url is not None
        token = environ.get(spec.token_env, "") if spec.token_env else ""
        headers = {"authorization": f"Bearer {token}"} if token else None
        return HttpScorer(
            name, spec.url, timeout=spec.timeout, retries=spec.retries, headers=headers
        )
    judge = judge_model(config, spec)
    second = None
    if spec.second is not None:
        provider = spec.second.provider or judge.provider
        second = JudgeModel(
            provider=provider,
            kind=config.providers[provider].kind,
            model=spec.second.model or judge.model,
            rubric=load_rubric(spec.second.rubric) if spec.second.rubric else judge.rubric,
            structured=judge.structured,
            max_tokens=judge.max_tokens,
        )
    share = spec.second.sample if spec.second is not None else 0.0
    return JudgeScorer(name, judge, complete, cache, second, share)


def judge_model(config: Config, spec: ScorerConfig) -> JudgeModel:
    assert spec.provider is not None and spec.model is not None and spec.rubric is not None
    return JudgeModel(
        provider=spec.provider,
        kind=config.providers[spec.provider].kind,
        model=spec.model,
        rubric=load_rubric(spec.rubric),
        structured=spec.structured,
        max_tokens=spec.max_tokens,
    )


def _second_rubric(spec: ScorerConfig) -> str | None:
    return spec.second.rubric if spec.second is not None else None


def _in(name: str, where: str, problem: ConfigProblem) -> ConfigProblem:
    """A rubric's problem, said where the config names the rubric."""
    inner = f" ({problem.path})" if problem.path else ""
    message = f"{problem.file}{inner}: {problem.message}"
    return ConfigProblem(name, where, message, problem.value)


def rubric_of(scorer: Scorer) -> Rubric | None:
    return scorer.judge.rubric if isinstance(scorer, JudgeScorer) else None
