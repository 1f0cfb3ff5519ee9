"""Checks that span sections: rollouts and flags name providers and routes that exist, and only
send a request to a provider that speaks the same API as the route it came in on."""

from __future__ import annotations

from collections.abc import Iterator

from rollout.config.model import Config
from rollout.config.scorers import scorer_references
from rollout.errors import ConfigProblem


def reference_problems(name: str, config: Config) -> list[ConfigProblem]:
    return [ConfigProblem(name, path, message, value) for path, message, value in _check(config)]


Finding = tuple[str, str, str | None]


def _check(config: Config) -> Iterator[Finding]:
    yield from _duplicates("rollouts", [r.name for r in config.rollouts])
    yield from _duplicates("flags", [f.name for f in config.flags])
    for i, rollout in enumerate(config.rollouts):
        where = f"rollouts[{i}]"
        yield from _known_routes(config, f"{where}.routes", rollout.routes)
        for arm in ("baseline", "candidate"):
            provider = getattr(rollout, arm).provider
            yield from _same_kind(config, f"{where}.{arm}.provider", provider, rollout.routes)
            for k, fallback in enumerate(getattr(rollout, arm).fallbacks):
                path = f"{where}.{arm}.fallbacks[{k}].provider"
                yield from _same_kind(config, path, fallback.provider, rollout.routes)
        for j, override in enumerate(rollout.overrides):
            yield from _known_routes(
                config, f"{where}.overrides[{j}].match.routes", override.match.routes
            )
    for i, route in enumerate(config.routes):
        for k, fallback in enumerate(route.fallbacks):
            path = f"routes[{i}].fallbacks[{k}].provider"
            yield from _same_kind(config, path, fallback.provider, [route.prefix])
    for i, flag in enumerate(config.flags):
        where = f"flags[{i}]"
        yield from _known_routes(config, f"{where}.when.routes", flag.when.routes)
        if flag.then.route is not None:
            provider = flag.then.route.provider
            yield from _same_kind(
                config, f"{where}.then.route.provider", provider, flag.when.routes
            )
    gates = [
        (f"rollouts[{i}].plan.gates[{j}].metric", gate.metric)
        for i, rollout in enumerate(config.rollouts)
        for j, gate in enumerate(rollout.plan.gates)
    ]
    yield from scorer_references(config.scorers, set(config.providers), gates)
    for i, rollout in enumerate(config.rollouts):
        if rollout.scoring is None:
            continue
        names = ", ".join(sorted(config.scorers)) or "none"
        for j, scorer in enumerate(rollout.scoring.scorers):
            if scorer not in config.scorers:
                message = f"names no configured scorer (scorers: {names})"
                yield f"rollouts[{i}].scoring.scorers[{j}]", message, repr(scorer)


def _duplicates(section: str, names: list[str]) -> Iterator[Finding]:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            yield f"{section}[{i}].name", "duplicate name", repr(name)
        seen.add(name)


def _known_routes(config: Config, path: str, prefixes: list[str] | None) -> Iterator[Finding]:
    known = {r.prefix for r in config.routes}
    for k, prefix in enumerate(prefixes or ()):
        if (prefix.rstrip("/") or "/") not in known:
            choices = ", ".join(sorted(known))
            yield (
                f"{path}[{k}]",
                f"names no configured route prefix (known: {choices})",
                repr(prefix),
            )


def _same_kind(
    config: Config, path: str, provider: str | None, prefixes: list[str] | None
) -> Iterator[Finding]:
    if provider is None:
        return
    target = config.providers.get(provider)
    if target is None:
        known = ", ".join(sorted(config.providers))
        yield path, f"names no configured provider (known: {known})", repr(provider)
        return
    wanted = {p.rstrip("/") or "/" for p in prefixes} if prefixes else None
    for route in config.routes:
        if wanted is not None and route.prefix not in wanted:
            continue
        kind = config.providers[route.provider].kind
        if kind != target.kind:
            yield (
                path,
                f"is an {target.kind} provider but requests on route {route.prefix} speak {kind}"
                " (limit the routes this applies to)",
                repr(provider),
            )
            return
