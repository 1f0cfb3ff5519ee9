"""GoverningIndex: the first rule, in config order, selecting a route prefix and a model."""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rollout.targeting import governing
from rollout.targeting.governing import GoverningIndex, Rule


def rule(name: str, routes: list[str] | None = None, models: list[str] | None = None) -> Rule:
    return Rule(None if routes is None else frozenset(routes), models, name)


RULES = [
    rule("v2-gpt", ["/v2"], ["gpt-*"]),
    rule("mini", None, ["*-mini", "o1"]),
    rule("v1-any", ["/v1"]),
    rule("v1-late", ["/v1"], ["gpt-4o"]),  # never first: v1-any takes every model before it
    rule("gpt", None, ["gpt-4o"]),
    rule("catch-all"),
    rule("after-catch-all", None, ["x"]),
]


@pytest.mark.parametrize(
    ("prefix", "model", "expected"),
    [
        ("/v2", "gpt-4o", "v2-gpt"),
        ("/v2", "gpt-4o-mini", "v2-gpt"),
        ("/v2", "claude-mini", "mini"),
        ("/v2", "claude", "catch-all"),
        ("/v2", None, "catch-all"),  # no model: only rules on every model
        ("/v1", "gpt-4o", "v1-any"),
        ("/v1", "o1-mini", "mini"),
        ("/other", "gpt-4o", "gpt"),
        ("/other", "x", "catch-all"),
        ("/other", "o1", "mini"),
    ],
)
def test_first_rule_in_config_order(prefix: str, model: str | None, expected: str) -> None:
    index = GoverningIndex(RULES)
    assert index.first(prefix, model) == expected
    assert index.first(prefix, model) == expected  # remembered


def test_no_rule_selects() -> None:
    index = GoverningIndex([rule("v1", ["/v1"], ["gpt-*"])])
    assert index.first("/v2", "gpt-4o") is None
    assert index.first("/v1", "claude") is None
    assert index.first("/v1", None) is None
    assert GoverningIndex([]).first("/v1", "gpt-4o") is None


def linear(rules: Sequence[Rule], prefix: str, model: str | None) -> str | None:
    """What judging every rule in turn gives (CompiledRollout.governs)."""
    for r in rules:
        if r.routes is not None and prefix not in r.routes:
            continue
        if r.models is None or (model is not None and any(fnmatchcase(model, g) for g in r.models)):
            return r.value
    return None


GLOBS = st.sampled_from(["gpt-4o", "gpt-4o*", "gpt-?o", "*mini", "[gc]*", "claude-3", "*", "o1-["])
RULE_SPECS = st.tuples(
    st.none() | st.lists(st.sampled_from(["/v1", "/v2", "/"]), max_size=2),
    st.none() | st.lists(GLOBS, max_size=3),
)
MODELS = st.none() | st.sampled_from(["gpt-4o", "gpt-4o-mini", "claude-3", "gpt-xo", "o1-[", "z"])
PREFIXES = st.sampled_from(["/v1", "/v2", "/", "/other"])


@settings(max_examples=150, deadline=None)
@given(
    specs=st.lists(RULE_SPECS, max_size=8),
    requests=st.lists(st.tuples(PREFIXES, MODELS), max_size=10),
    memo_size=st.sampled_from([1, 2, 1024]),
)
def test_agrees_with_judging_every_rule(
    specs: list, requests: list[tuple[str, str | None]], memo_size: int
) -> None:
    rules = [rule(f"r{i}", routes, models) for i, (routes, models) in enumerate(specs)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(governing, "MEMO_SIZE", memo_size)  # a full memo starts again
        index = GoverningIndex(rules)
        for prefix, model in requests * 2:
            assert index.first(prefix, model) == linear(rules, prefix, model)
