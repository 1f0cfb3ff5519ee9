"""Feature flags compiled once per config load and evaluated on every request.

Every flag is judged against the request as the client sent it (one flag's effect never changes
whether a later flag matches); the matches come back in config order and the flags stage applies
their effects in that order. Only the flags an index finds for the request's facts are judged
(rollout/targeting/flag_index.py): a request pays for the flags that could apply to it, not for
every flag configured. Ops may switch a flag on or off, or change its percentage, at run
time (`FlagSet.apply_runtime`) without recompiling anything.

The payload edits a flag makes (cap, set, strip_tools) are plain functions of the parsed body,
so they are tested without a proxy.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rollout.config.flags import Effect, Flag
from rollout.targeting.flag_index import FlagIndex
from rollout.targeting.matching import (
    OUTPUT_LIMIT_FIELDS,
    Predicate,
    Share,
    compile_match,
    is_number,
)
from rollout.targeting.request_facts import RequestFacts


@dataclass(slots=True, eq=False)
class CompiledFlag:
    name: str
    config: Flag
    matches: Predicate
    share: Share  # the percentage the predicate reads; runtime overrides swap its value
    enabled: bool
    salt: str  # of its percentage, as `matches` uses it

    @property
    def effect(self) -> Effect:
        return self.config.then

    @property
    def percent(self) -> float | None:
        return self.share.percent


def compile_flag(flag: Flag) -> CompiledFlag:
    share = Share(flag.when.percent)  # always owned, so a runtime percent works on any flag
    # The flag's name is its salt: renaming a flag reshuffles who its percentage picks.
    salt = f"flag:{flag.name}"
    matches = compile_match(flag.when, salt, share)
    return CompiledFlag(flag.name, flag, matches, share, flag.enabled, salt)


class FlagSet:
    def __init__(self, flags: Sequence[Flag]) -> None:
        self.flags = tuple(compile_flag(f) for f in flags)
        self._by_name = {f.name: f for f in self.flags}
        self._active = tuple(f for f in self.flags if f.enabled)
        self._index = FlagIndex(self.flags)

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._by_name)

    def __len__(self) -> int:
        return len(self.flags)

    def evaluate(self, facts: RequestFacts) -> list[CompiledFlag]:
        """The enabled flags whose condition holds, in config order."""
        # `enabled` is read here, not filed in the index: ops switch flags at run time.
        return [f for _, f, rest in self._index.candidates(facts) if f.enabled and rest(facts)]

    def evaluate_each(self, facts: RequestFacts) -> list[CompiledFlag]:
        """The same as `evaluate`, judging every enabled flag: the reference it is tested
        against."""
        return [flag for flag in self._active if flag.matches(facts)]

    def apply_runtime(self, overrides: Mapping[str, Any]) -> list[str]:
        """Set each flag's `enabled` and `percent` from a store document
        `{name: {"enabled": bool, "percent": number}}`; a flag (or key) the document leaves out
        goes back to its config value. Returns the names the document has but the config does
        not, for the caller to log. Invalid values raise ValueError and change nothing."""
        if not isinstance(overrides, Mapping):
            raise ValueError(f"flag overrides must be a mapping of flag names (got {overrides!r})")
        settings = {
            name: _runtime_setting(flag, overrides.get(name))
            for name, flag in self._by_name.items()
        }
        for name, (enabled, percent) in settings.items():
            flag = self._by_name[name]
            flag.enabled, flag.share.percent = enabled, percent
        self._active = tuple(f for f in self.flags if f.enabled)
        return sorted(str(name) for name in overrides if name not in self._by_name)


_RUNTIME_KEYS = frozenset({"enabled", "percent"})


def _runtime_setting(flag: CompiledFlag, override: Any) -> tuple[bool, float | None]:
    """(enabled, percent) for `flag` under `override` (None: back to the config)."""
    config = flag.config
    if override is None:
        return config.enabled, config.when.percent
    where = f"flag {flag.name!r}"
    if not isinstance(override, Mapping):
        raise ValueError(f"{where}: override must be a mapping (got {override!r})")
    unknown = sorted(map(str, set(override) - _RUNTIME_KEYS))
    if unknown:
        raise ValueError(f"{where}: unknown override key {unknown[0]!r} (known: enabled, percent)")
    enabled = override.get("enabled")
    if enabled is None:
        enabled = config.enabled
    elif not isinstance(enabled, bool):
        raise ValueError(f"{where}: enabled must be true or false (got {enabled!r})")
    percent = override.get("percent")
    if percent is None:
        percent = config.when.percent
    elif not is_number(percent) or not 0 <= percent <= 100:  # NaN fails the range too
        raise ValueError(f"{where}: percent must be a number from 0 to 100 (got {percent!r})")
    return enabled, percent


# --- payload edits: each returns whether the payload changed ---------------------------------

# Where `cap: {max_tokens: N}` puts the limit when the request sets none. Chat: OpenAI deprecated
# `max_tokens` there and its reasoning models reject it, while vLLM (>= 0.6), SGLang and the
# other current OpenAI-compatible servers read `max_completion_tokens` too.
DEFAULT_LIMIT_FIELD = {api: fields[0] for api, fields in OUTPUT_LIMIT_FIELDS.items()}


def cap_fields(api: str | None, payload: dict[str, Any], caps: Mapping[str, int]) -> bool:
    """Lower numeric top-level fields to at most their cap. `max_tokens` means the API's own
    output limit: every limit field present is lowered, and one is added when none is set (an
    absent limit is unbounded). Any other key is a literal field, lowered only when present."""
    changed = False
    for key, cap in caps.items():
        if key == "max_tokens" and api in OUTPUT_LIMIT_FIELDS:
            changed |= _cap_output_limit(api, payload, cap)
        else:
            changed |= _lower(payload, key, cap)
    return changed


def _cap_output_limit(api: str, payload: dict[str, Any], cap: int) -> bool:
    fields = OUTPUT_LIMIT_FIELDS[api]
    if not any(is_number(payload.get(f)) for f in fields):
        payload[DEFAULT_LIMIT_FIELD[api]] = cap
        return True
    changed = False
    for field in fields:
        changed |= _lower(payload, field, cap)
    return changed


def _lower(payload: dict[str, Any], field: str, cap: int) -> bool:
    value = payload.get(field)
    if is_number(value) and value > cap:
        payload[field] = cap
        return True
    return False


def set_fields(payload: dict[str, Any], values: Mapping[str, Any]) -> bool:
    """Set top-level fields. Containers are copied: a later stage that edits the payload in
    place (e.g. adding to stream_options) must never edit the config."""
    changed = False
    for field, value in values.items():
        old = payload.get(field, _MISSING)
        if type(old) is type(value) and old == value:  # type too: true is not 1
            continue
        payload[field] = copy.deepcopy(value) if isinstance(value, dict | list) else value
        changed = True
    return changed


_MISSING = object()

# OpenAI also still accepts the deprecated `functions` / `function_call` on chat: strip them too,
# or a request would keep its tools under the old names.
_TOOL_FIELDS = {
    "openai": ("tools", "tool_choice", "parallel_tool_calls", "functions", "function_call"),
    "anthropic": ("tools", "tool_choice"),
}


def strip_tools(api: str | None, payload: dict[str, Any]) -> bool:
    """Remove the tool definitions and tool settings. The conversation is left alone: Anthropic
    rejects tool_use / tool_result blocks in messages once no tools are defined."""
    family = "anthropic" if api is not None and api.startswith("anthropic.") else "openai"
    changed = False
    for field in _TOOL_FIELDS[family]:
        if payload.pop(field, _MISSING) is not _MISSING:
            changed = True
    return changed
