"""Match conditions compiled to predicates: every condition, alone and together."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from multidict import CIMultiDict

from rollout.config.flags import Match
from rollout.targeting.cohorts import bucket
from rollout.targeting.matching import Share, compile_match, output_limit


@dataclass
class Facts:
    api: str | None = "openai.chat"
    model: str | None = "gpt-4o"
    payload: dict[str, Any] | None = field(default_factory=lambda: {"model": "gpt-4o"})
    subject: str | None = "user:alice"
    headers: CIMultiDict[str] = field(default_factory=CIMultiDict)
    route_prefix: str = "/v1"


def facts(**changes: Any) -> Facts:
    if isinstance(changes.get("headers"), dict):
        changes["headers"] = CIMultiDict(changes["headers"])
    return Facts(**changes)


def matches(when: dict[str, Any], **changes: Any) -> bool:
    return compile_match(Match(**when), "salt")(facts(**changes))


@pytest.mark.parametrize(
    ("when", "request_facts", "expected"),
    [
        ({}, {}, True),
        ({}, {"api": None, "payload": None, "subject": None}, True),
        # headers: exact text, names case-insensitive, config scalars as their text
        ({"headers": {"X-Tier": "free"}}, {"headers": {"x-tier": "free"}}, True),
        ({"headers": {"x-tier": "free"}}, {"headers": {"X-TIER": "free"}}, True),
        ({"headers": {"x-tier": "free"}}, {"headers": {"x-tier": "Free"}}, False),
        ({"headers": {"x-tier": "free"}}, {}, False),
        ({"headers": {"x-tier": ["free", "trial"]}}, {"headers": {"x-tier": "trial"}}, True),
        ({"headers": {"x-beta": True}}, {"headers": {"x-beta": "true"}}, True),
        ({"headers": {"x-beta": True}}, {"headers": {"x-beta": "True"}}, False),
        ({"headers": {"x-beta": False}}, {"headers": {"x-beta": "false"}}, True),
        ({"headers": {"x-n": 5}}, {"headers": {"x-n": "5"}}, True),
        (
            {"headers": {"a": "1", "b": "2"}},
            {"headers": {"a": "1", "b": "3"}},
            False,
        ),
        # body: dotted path through objects, JSON type-aware equality
        ({"body": {"user": "u1"}}, {"payload": {"user": "u1"}}, True),
        ({"body": {"metadata.tier": "pro"}}, {"payload": {"metadata": {"tier": "pro"}}}, True),
        ({"body": {"metadata.tier": "pro"}}, {"payload": {"metadata": {"tier": "free"}}}, False),
        ({"body": {"metadata.tier": "pro"}}, {"payload": {"metadata": "pro"}}, False),
        ({"body": {"metadata.tier": "pro"}}, {"payload": {}}, False),
        ({"body": {"metadata.tier": "pro"}}, {"payload": None}, False),
        ({"body": {"n": 1}}, {"payload": {"n": 1}}, True),
        ({"body": {"n": 1}}, {"payload": {"n": 1.0}}, True),
        ({"body": {"n": 1}}, {"payload": {"n": "1"}}, False),
        ({"body": {"n": 1}}, {"payload": {"n": True}}, False),
        ({"body": {"n": True}}, {"payload": {"n": 1}}, False),
        ({"body": {"n": True}}, {"payload": {"n": True}}, True),
        ({"body": {"n": "1"}}, {"payload": {"n": 1}}, False),
        ({"body": {"n": [1, 2]}}, {"payload": {"n": 2}}, True),
        ({"body": {"n": 1}}, {"payload": {"n": [1]}}, False),
        # models: shell globs, case-sensitive
        ({"models": ["gpt-4o*"]}, {"model": "gpt-4o-mini"}, True),
        ({"models": ["gpt-4o"]}, {"model": "gpt-4o-mini"}, False),
        ({"models": ["gpt-4o*"]}, {"model": "GPT-4o"}, False),
        ({"models": ["claude-*", "gpt-4.1"]}, {"model": "gpt-4.1"}, True),
        ({"models": ["gpt-4.1"]}, {"model": "gpt-4x1"}, False),
        ({"models": ["gpt-?o"]}, {"model": "gpt-4o"}, True),
        ({"models": ["*"]}, {"model": None}, False),
        ({"models": []}, {"model": "gpt-4o"}, False),
        # routes: prefixes, trailing slash normalised
        ({"routes": ["/v1"]}, {"route_prefix": "/v1"}, True),
        ({"routes": ["/v1/"]}, {"route_prefix": "/v1"}, True),
        ({"routes": ["/v1"]}, {"route_prefix": "/anthropic"}, False),
        ({"routes": ["/"]}, {"route_prefix": "/"}, True),
        ({"routes": ["/v1"]}, {"route_prefix": ""}, False),
        # apis
        ({"apis": ["openai.chat"]}, {"api": "openai.chat"}, True),
        ({"apis": ["anthropic.messages"]}, {"api": "openai.chat"}, False),
        ({"apis": ["openai.chat"]}, {"api": None}, False),
        # subjects
        ({"subjects": ["user:alice", "user:bob"]}, {"subject": "user:bob"}, True),
        ({"subjects": ["user:alice"]}, {"subject": "user:carol"}, False),
        ({"subjects": ["user:alice"]}, {"subject": None}, False),
        # tools
        ({"tools": True}, {"payload": {"tools": [{"type": "function"}]}}, True),
        ({"tools": True}, {"payload": {"tools": []}}, False),
        ({"tools": True}, {"payload": {"tools": "x"}}, False),
        ({"tools": True}, {"payload": {}}, False),
        ({"tools": False}, {"payload": {}}, True),
        ({"tools": False}, {"payload": {"tools": []}}, True),
        ({"tools": False}, {"payload": {"tools": [{"type": "function"}]}}, False),
        # several conditions: all must hold
        (
            {"models": ["gpt-*"], "headers": {"x-tier": "free"}, "apis": ["openai.chat"]},
            {"headers": {"x-tier": "free"}},
            True,
        ),
        (
            {"models": ["gpt-*"], "headers": {"x-tier": "free"}, "apis": ["openai.responses"]},
            {"headers": {"x-tier": "free"}},
            False,
        ),
    ],
)
def test_conditions(when: dict[str, Any], request_facts: dict[str, Any], expected: bool) -> None:
    assert matches(when, **request_facts) is expected


@pytest.mark.parametrize(
    ("api", "payload", "over_100"),
    [
        ("openai.chat", {"max_completion_tokens": 101}, True),
        ("openai.chat", {"max_completion_tokens": 100}, False),
        ("openai.chat", {"max_tokens": 101}, True),
        ("openai.chat", {"max_tokens": 50}, False),
        ("openai.chat", {"max_completion_tokens": 50, "max_tokens": 500}, False),
        ("openai.chat", {}, True),  # no limit: unbounded
        ("openai.chat", {"max_tokens": None}, True),
        ("openai.chat", {"max_tokens": "50"}, True),
        ("openai.chat", {"max_tokens": True}, True),
        ("openai.chat", {"max_output_tokens": 50}, True),  # another API's field
        ("openai.responses", {"max_output_tokens": 50}, False),
        ("openai.responses", {"max_output_tokens": 500}, True),
        ("openai.responses", {"max_tokens": 50}, True),
        ("openai.completions", {"max_tokens": 50}, False),
        ("anthropic.messages", {"max_tokens": 50}, False),
        ("anthropic.messages", {"max_tokens": 100.5}, True),
        ("openai.embeddings", {}, False),  # nothing generated: never over
        (None, {}, False),
    ],
)
def test_max_tokens_over(api: str | None, payload: dict[str, Any], over_100: bool) -> None:
    assert matches({"max_tokens_over": 100}, api=api, payload=payload) is over_100


def test_output_limit_without_payload_is_unbounded() -> None:
    assert output_limit("openai.chat", None) is None


def _bucket_percent(subject: str) -> float:
    return bucket("salt:percent", subject) * 100


@pytest.mark.parametrize("subject", ["user:alice", "user:bob", "key:5c7ffe7564792727"])
def test_percent_uses_its_own_salt_and_a_strict_bound(subject: str) -> None:
    position = _bucket_percent(subject)
    assert matches({"percent": position + 1e-9}, subject=subject)
    assert not matches({"percent": position}, subject=subject)


@pytest.mark.parametrize(
    ("percent", "subject", "expected"),
    [
        (100, None, True),  # everyone means every request
        (100, "user:alice", True),
        (0, "user:alice", False),
        (0, None, False),
        (50, None, False),  # a share of subjects: no subject, not in it
    ],
)
def test_percent_edges(percent: float, subject: str | None, expected: bool) -> None:
    assert matches({"percent": percent}, subject=subject) is expected


def test_percent_picks_its_share_independently_of_the_arm_hash() -> None:
    subjects = [f"user:{i}" for i in range(4000)]
    ten = {s for s in subjects if matches({"percent": 10}, subject=s)}
    twenty = {s for s in subjects if matches({"percent": 20}, subject=s)}
    on_candidate = {s for s in subjects if bucket("salt", s) < 0.10}
    assert 340 < len(ten) < 460 and 700 < len(twenty) < 900
    assert ten < twenty  # raising the percent only adds subjects
    assert len(ten & on_candidate) < 100  # about 10% of 10%, not the same people


def test_shared_percent_changes_without_recompiling() -> None:
    share = Share(None)
    predicate = compile_match(Match(models=["gpt-*"]), "salt", share)
    alice = facts(subject="user:alice")
    position = _bucket_percent("user:alice")
    assert predicate(alice)  # None: no percentage condition
    share.percent = position / 2
    assert not predicate(alice)
    share.percent = position + 0.001
    assert predicate(alice)
    assert not predicate(facts(subject="user:alice", model="claude-x"))


def test_share_overrides_the_config_percent() -> None:
    predicate = compile_match(Match(percent=0), "salt", Share(100))
    assert predicate(facts())
