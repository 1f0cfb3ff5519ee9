"""What a reloaded config changes, compared with the running one: pure functions over two
`Config`s, used by the hot reload (rollout/config/reloader.py) to refuse what needs a restart and
to say what it applied."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import orjson
from pydantic import BaseModel

from rollout.config.model import Config
from rollout.errors import ConfigProblem

# Sections a running process cannot take from a reload: the sockets are bound and the store is
# open. `rollout controller` only uses the store.
PROXY_RESTART_ONLY = ("listen", "admin", "store")
CONTROLLER_RESTART_ONLY = ("admin", "store")


def config_hash(config: Config) -> str:
    """Stable over everything the config says, prompt texts included (not over formatting)."""
    doc = config.model_dump(mode="json")
    return hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest()[:12]


def restart_problems(
    running: Config, new: Config, file: str, sections: Sequence[str] = PROXY_RESTART_ONLY
) -> list[ConfigProblem]:
    """One problem per setting in `sections` that differs: the reload is refused for them."""
    problems = []
    for section in sections:
        before, after = _dump(getattr(running, section)), _dump(getattr(new, section))
        for key in sorted(set(before) | set(after)):
            if before.get(key) != after.get(key):
                message = f"cannot change without a restart (running: {before.get(key)!r})"
                problems.append(
                    ConfigProblem(file, f"{section}.{key}", message, repr(after.get(key)))
                )
    return problems


def describe_changes(running: Config, new: Config) -> list[str]:
    """One line per change, in config order: what a reload applies, for the log and the API."""
    lines: list[str] = []
    for section in ("limits", "observe"):
        if _dump(getattr(running, section)) != _dump(getattr(new, section)):
            lines.append(f"{section} changed")
    lines += _named("provider", running.providers, new.providers)
    if _dump_list(running.routes) != _dump_list(new.routes):
        lines.append("routes changed")
    lines += _named("flag", {f.name: f for f in running.flags}, {f.name: f for f in new.flags})
    lines += _rollouts(running, new)
    return lines


def _rollouts(running: Config, new: Config) -> Iterator[str]:
    before = {r.name: r for r in running.rollouts}
    for rollout in new.rollouts:
        old = before.get(rollout.name)
        name = rollout.name
        if old is None:
            yield f"rollout {name} added (version {rollout.version})"
            continue
        if old.version != rollout.version:
            yield (
                f"rollout {name}: new version {old.version} -> {rollout.version} (the candidate"
                " changed: a new rollout starts from the config's weight)"
            )
        if _dump(old.plan) != _dump(rollout.plan):
            yield f"rollout {name}: plan changed ({plan_difference(old.plan, rollout.plan)})"
        rest = {"candidate", "plan"}
        if _dump(old, exclude=rest) != _dump(rollout, exclude=rest):
            keys = _differing(_dump(old, exclude=rest), _dump(rollout, exclude=rest))
            yield f"rollout {name}: {', '.join(keys)} changed"
    names = {r.name for r in new.rollouts}
    yield from (f"rollout {n} removed" for n in before if n not in names)


def plan_difference(before: BaseModel, after: BaseModel) -> str:
    return fields_difference(_dump(before), _dump(after))


def fields_difference(old: dict[str, Any], new: dict[str, Any]) -> str:
    """'stages 1,5,25,50,100 -> 10,50,100; min_duration 300 -> 60; gates': the fields that
    differ, with their values when they are short."""
    parts = []
    for key in _differing(old, new):
        if key == "stages":
            parts.append(f"stages {_percents(old[key])} -> {_percents(new[key])}")
        elif isinstance(old.get(key), int | float | str | bool) or old.get(key) is None:
            parts.append(f"{key} {_scalar(old.get(key))} -> {_scalar(new.get(key))}")
        else:
            parts.append(key)
    return "; ".join(parts)


def _scalar(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _named(kind: str, before: Mapping[str, BaseModel], after: Mapping[str, BaseModel]) -> list[str]:
    lines = [f"{kind} {n} added" for n in after if n not in before]
    lines += [
        f"{kind} {n} changed" for n in after if n in before and _dump(before[n]) != _dump(after[n])
    ]
    lines += [f"{kind} {n} removed" for n in before if n not in after]
    return lines


def _differing(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return [k for k in dict.fromkeys([*before, *after]) if before.get(k) != after.get(k)]


def _percents(stages: list[dict[str, Any]]) -> str:
    return ",".join(f"{s['percent']:g}" for s in stages)


def _dump(model: BaseModel, exclude: set[str] | None = None) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude=exclude)


def _dump_list(models: Sequence[BaseModel]) -> list[dict[str, Any]]:
    return [_dump(m) for m in models]
