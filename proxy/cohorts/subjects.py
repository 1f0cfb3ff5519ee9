"""Where a request's subject comes from: `header:<name>`, `body:<dotted.path>` or `api_key`.

The subject is the value itself (e.g. the user id a client sends), except for `api_key`, which is
`key:` + a one-way fingerprint: enough to tell keys apart, useless to an attacker.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from hashlib import blake2b
from typing import Any

from rollout.config.rollouts import DEFAULT_SUBJECT
from rollout.targeting.request_facts import RequestFacts

SubjectSource = Callable[[RequestFacts], "str | None"]


def compile_sources(specs: Sequence[str]) -> Callable[[RequestFacts], str | None]:
    """One function trying each source in order; the first non-empty value wins."""
    sources = tuple(subject_source(s) for s in specs)

    def subject_of(facts: RequestFacts) -> str | None:
        for source in sources:
            subject = source(facts)
            if subject:
                return subject
        return None

    return subject_of


def subject_source(spec: str) -> SubjectSource:
    kind, _, arg = spec.partition(":")
    if kind == "header":
        return lambda facts: facts.headers.get(arg) or None
    if kind == "body":
        path = tuple(arg.split("."))
        return lambda facts: _string_at(facts.payload, path)
    if kind == "api_key":
        return _api_key_subject
    raise ValueError(f"unknown subject source {spec!r}")


def key_fingerprint(secret: str) -> str:
    return blake2b(secret.encode(), digest_size=8, person=b"llm-rollout").hexdigest()


def _string_at(payload: Any, path: tuple[str, ...]) -> str | None:
    value = payload
    for part in path:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value if isinstance(value, str) and value else None


def _api_key_subject(facts: RequestFacts) -> str | None:
    headers = facts.headers
    key = headers.get("authorization") or headers.get("x-api-key")
    return "key:" + key_fingerprint(key) if key else None


default_subject = compile_sources(DEFAULT_SUBJECT)
