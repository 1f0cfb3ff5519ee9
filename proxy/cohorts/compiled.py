"""A rollout's config turned, once per config load, into what the request path needs: which
requests it governs, how to find their subject, its overrides, and its variants' upstreams."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from proxy.cohorts.subjects import compile_sources
from proxy.routing import Fallbacks, compile_fallbacks
from proxy.upstream import Upstream
from rollout.config.rollouts import Prompt, Rollout
from rollout.targeting.matching import compile_match
from rollout.targeting.request_facts import RequestFacts


@dataclass(frozen=True, slots=True)
class CompiledVariant:
    upstream: Upstream | None  # None: the route's own provider
    model: str | None  # None: the model the request named
    prompt: Prompt | None
    params: Mapping[str, Any]
    fallbacks: Fallbacks = ()  # the arm's own, instead of the route's


@dataclass(frozen=True, slots=True)
class CompiledRollout:
    name: str
    version: str
    salt: str
    sticky_ttl: float
    config: Rollout
    routes: frozenset[str] | None
    models: tuple[str, ...] | None
    subject_of: Callable[[RequestFacts], str | None]
    overrides: tuple[tuple[Callable[[RequestFacts], bool], str], ...]
    variants: Mapping[str, CompiledVariant]  # by arm

    def governs(self, route_prefix: str, model: str | None) -> bool:
        if self.routes is not None and route_prefix not in self.routes:
            return False
        if self.models is None:
            return True
        return model is not None and any(fnmatchcase(model, glob) for glob in self.models)

    def override_arm(self, facts: RequestFacts) -> str | None:
        for matches, arm in self.overrides:
            if matches(facts):
                return arm
        return None


def compile_rollout(rollout: Rollout, upstreams: Mapping[str, Upstream]) -> CompiledRollout:
    def variant(arm: str) -> CompiledVariant:
        v = getattr(rollout, arm)
        upstream = upstreams[v.provider] if v.provider else None
        fallbacks = compile_fallbacks(v.fallbacks, upstreams)
        return CompiledVariant(upstream, v.model, v.prompt, dict(v.params), fallbacks)

    salt = rollout.bucket_salt
    return CompiledRollout(
        name=rollout.name,
        version=rollout.version,
        salt=salt,
        sticky_ttl=rollout.sticky_ttl,
        config=rollout,
        routes=frozenset(p.rstrip("/") or "/" for p in rollout.routes) if rollout.routes else None,
        models=tuple(rollout.models) if rollout.models else None,
        subject_of=compile_sources(rollout.subject),
        overrides=tuple((compile_match(o.match, salt), o.arm) for o in rollout.overrides),
        variants={"baseline": variant("baseline"), "candidate": variant("candidate")},
    )
