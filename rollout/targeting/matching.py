"""Request conditions (`Match`, rollout/config/flags.py) compiled once into fast predicates.

`compile_match` builds one small closure per condition the config gives, cheapest first, and
returns a predicate that runs them until one fails; an empty Match costs one call that returns
True. Nothing is compiled or allocated per request.

Percentages: a subject is in when `bucket(salt + ":percent", subject) * 100 < percent`. The
":percent" suffix keeps the share independent of any arm hash made with the same salt (a rollout
override with `percent: 10` must not pick exactly the subjects that are on the candidate at weight
0.1). Raising the percent only ever adds subjects. 100 means every request and 0 none, with or
without a subject; in between, a request without a subject is out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from fnmatch import translate
from typing import Any

from rollout.config.flags import Match, Scalar
from rollout.targeting.cohorts import bucket
from rollout.targeting.request_facts import RequestFacts

Predicate = Callable[[RequestFacts], bool]


class Share:
    """A percentage read on every evaluation, so that ops can change it without a recompile.
    None: no percentage condition."""

    __slots__ = ("percent",)

    def __init__(self, percent: float | None) -> None:
        self.percent = percent


def compile_match(match: Match, salt: str, share: Share | None = None) -> Predicate:
    """The predicate of `match`. Pass `share` to own the percentage (its value replaces
    `match.percent`, and may change later); without it, `match.percent` is fixed."""
    if share is None and match.percent is not None:
        share = Share(match.percent)
    checks = [check for check in _checks(match) if check is not None]
    if share is not None:
        checks.append(_percent(share, salt + ":percent"))  # last: a SHA-256 per call
    return _all_of(tuple(checks))


def _checks(m: Match) -> Iterable[Predicate | None]:
    yield _apis(m.apis)
    yield _routes(m.routes)
    yield _models(m.models)
    yield _tools(m.tools)
    yield _max_tokens_over(m.max_tokens_over)
    yield from (_header(name, accepted) for name, accepted in m.headers.items())
    yield from (_body(path, accepted) for path, accepted in m.body.items())
    yield _subjects(m.subjects)


def _all_of(checks: tuple[Predicate, ...]) -> Predicate:
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]

    def all_of(facts: RequestFacts) -> bool:
        # A plain loop: all() over a generator costs a generator object per request.
        for check in checks:  # noqa: SIM110
            if not check(facts):
                return False
        return True

    return all_of


def _always(facts: RequestFacts) -> bool:
    return True


def _apis(apis: list[str] | None) -> Predicate | None:
    if apis is None:
        return None
    wanted = frozenset(apis)
    return lambda facts: facts.api in wanted


def _routes(routes: list[str] | None) -> Predicate | None:
    if routes is None:
        return None
    wanted = frozenset(p.rstrip("/") or "/" for p in routes)  # as Route normalises its prefix
    return lambda facts: facts.route_prefix in wanted


def _models(globs: list[str] | None) -> Predicate | None:
    if globs is None:
        return None
    # One regex for all globs, compiled now (fnmatchcase semantics: case-sensitive).
    matches = re.compile("|".join(f"(?:{translate(g)})" for g in globs) or "(?!)").match

    def models(facts: RequestFacts) -> bool:
        model = facts.model
        return model is not None and matches(model) is not None

    return models


def _tools(wanted: bool | None) -> Predicate | None:
    if wanted is None:
        return None
    return lambda facts: offers_tools(facts.payload) is wanted


def offers_tools(payload: Mapping[str, Any] | None) -> bool:
    tools = None if payload is None else payload.get("tools")
    return isinstance(tools, list) and len(tools) > 0


def _max_tokens_over(limit: int | None) -> Predicate | None:
    if limit is None:
        return None

    def over(facts: RequestFacts) -> bool:
        api = facts.api
        if api not in OUTPUT_LIMIT_FIELDS:
            return False  # embeddings, passthrough: no output tokens to limit
        requested = output_limit(api, facts.payload)
        return requested is None or requested > limit

    return over


# The fields that limit output tokens, per API, in the order the provider reads them.
OUTPUT_LIMIT_FIELDS: dict[str, tuple[str, ...]] = {
    "openai.chat": ("max_completion_tokens", "max_tokens"),
    "openai.completions": ("max_tokens",),
    "openai.responses": ("max_output_tokens",),
    "anthropic.messages": ("max_tokens",),
}


def output_limit(api: str, payload: Mapping[str, Any] | None) -> float | None:
    """The request's output-token limit; None when it sets none (null or junk included)."""
    if payload is None:
        return None
    for field in OUTPUT_LIMIT_FIELDS.get(api, ()):
        value = payload.get(field)
        if is_number(value):
            return value
    return None


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _header(name: str, accepted: Scalar | list[Scalar]) -> Predicate:
    # Headers are text: a YAML `true` or `5` stands for the header value "true" or "5".
    wanted = frozenset(header_text(v) for v in listed(accepted))
    key = name.lower()

    def header(facts: RequestFacts) -> bool:
        return facts.headers.get(key) in wanted

    return header


def header_text(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _body(path: str, accepted: Scalar | list[Scalar]) -> Predicate:
    parts = tuple(path.split("."))
    wanted = frozenset(typed_key(v) for v in listed(accepted))

    def body(facts: RequestFacts) -> bool:
        value: Any = facts.payload
        for part in parts:
            if not isinstance(value, dict):
                return False
            value = value.get(part)
        return isinstance(value, str | int | float) and typed_key(value) in wanted

    return body


def typed_key(value: Scalar) -> tuple[str, Scalar]:
    """Equal only when JSON would call them equal: 1 == 1.0, but 1 != "1" and 1 != true."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("number", value)
    return ("string", value)


def _subjects(subjects: list[str] | None) -> Predicate | None:
    if subjects is None:
        return None
    wanted = frozenset(subjects)
    return lambda facts: facts.subject in wanted


def _percent(share: Share, salt: str) -> Predicate:
    def percent(facts: RequestFacts) -> bool:
        value = share.percent
        if value is None or value >= 100:
            return True
        subject = facts.subject
        return subject is not None and value > 0 and bucket(salt, subject) * 100 < value

    return percent


def listed(accepted: Scalar | list[Scalar]) -> list[Scalar]:
    return accepted if isinstance(accepted, list) else [accepted]
