"""The first rule, in config order, that selects a request by its route and model: which rollout
governs a request (docs/rollouts.md: "the first matching rollout in config order wins").

A rule selects a request when its routes (None: every route) hold the request's route prefix
and its model globs (None: every model) match the requested model (a request without a model
only falls under rules without models). Judging every rule costs each request about a
microsecond per configured rollout; a `GoverningIndex`, built once per config load, answers
with dict lookups instead:

- per route prefix named by some rule, the rules that apply there (those naming it and those
  on every route), in config order; one more such list for every other prefix;
- in each list, the first rule taking every model cuts the list: no rule after it can win;
- the rules before it are found by their globs (rollout/targeting/globs.py);
- the answer per model is remembered (up to MEMO_SIZE models per route: the client names the
  model, so the memo is bounded; when full it starts again).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from rollout.targeting.globs import GlobSet

T = TypeVar("T")

MEMO_SIZE = 1024


@dataclass(frozen=True, slots=True)
class Rule(Generic[T]):
    routes: frozenset[str] | None  # normalised route prefixes; None: every route
    models: Sequence[str] | None  # shell globs; None: every model
    value: T


class _RouteRules(Generic[T]):
    """The rules that apply on one route prefix, in config order, by model."""

    __slots__ = ("_catch_all", "_globs", "_memo")

    def __init__(self, rules: Iterable[Rule[T]]) -> None:
        globs: list[tuple[str, T]] = []
        self._catch_all: T | None = None
        for rule in rules:
            if rule.models is None:
                self._catch_all = rule.value
                break  # nothing after a rule on every model can be first
            globs.extend((glob, rule.value) for glob in rule.models)
        self._globs = GlobSet(globs)
        self._memo: dict[str | None, T | None] = {}

    def first(self, model: str | None) -> T | None:
        try:
            return self._memo[model]
        except KeyError:
            pass
        found = self._first(model)
        if len(self._memo) >= MEMO_SIZE:
            self._memo.clear()
        self._memo[model] = found
        return found

    def _first(self, model: str | None) -> T | None:
        if model is not None and self._globs:
            matching = self._globs.matching(model)  # config order: the first is the earliest
            if matching:
                return matching[0]
        return self._catch_all


class GoverningIndex(Generic[T]):
    """The value of the first rule selecting (route prefix, model), or None."""

    __slots__ = ("_by_route", "_elsewhere")

    def __init__(self, rules: Sequence[Rule[T]]) -> None:
        named = {prefix for rule in rules if rule.routes is not None for prefix in rule.routes}
        self._by_route = {
            prefix: _RouteRules(r for r in rules if r.routes is None or prefix in r.routes)
            for prefix in named
        }
        self._elsewhere = _RouteRules(r for r in rules if r.routes is None)

    def first(self, route_prefix: str, model: str | None) -> T | None:
        return self._by_route.get(route_prefix, self._elsewhere).first(model)
