"""The flag index: for any flags and any request, the indexed evaluation finds exactly the flags a
linear pass finds, in the same order; and a request judges only the flags its facts point to."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict

from rollout.config.flags import Flag
from rollout.targeting.flag_index import FlagIndex
from rollout.targeting.flags import FlagSet
from tests.rollout.targeting.test_matching import Facts, facts

# Small alphabets, so that configs and requests meet often.
SCALARS = st.sampled_from(["a", "b", "1", "true", "", 1, 1.0, 2, True, False, 0])
ACCEPTED = SCALARS | st.lists(SCALARS, max_size=3)
HEADER_NAMES = st.sampled_from(["x-team", "X-Team", "x-tier", "x-a"]) | st.from_regex(
    r"x-h[0-9]{1,2}", fullmatch=True
)
PATHS = st.sampled_from(["tier", "metadata.tier", "metadata", "a.b.c", "a.b", "a"])
GLOBS = st.sampled_from(["gpt-4o", "gpt-4o*", "gpt-?o", "*mini", "[gc]*", "claude-3", "*", "o1-["])
ROUTES = st.sampled_from(["/v1", "/v1/", "/v2", "/", ""])
APIS = st.sampled_from(["openai.chat", "openai.responses", "anthropic.messages"])
SUBJECTS = st.sampled_from(["u1", "u2", "u3", ""])

WHEN = st.fixed_dictionaries(
    {},
    optional={
        "headers": st.dictionaries(HEADER_NAMES, ACCEPTED, max_size=2),
        "body": st.dictionaries(PATHS, ACCEPTED, max_size=2),
        "models": st.lists(GLOBS, max_size=3),
        "routes": st.lists(ROUTES, max_size=2),
        "apis": st.lists(APIS, max_size=2),
        "subjects": st.lists(SUBJECTS, max_size=3),
        "percent": st.sampled_from([0, 30, 50, 100]),
        "max_tokens_over": st.sampled_from([0, 100]),
        "tools": st.booleans(),
    },
)
FLAGS = st.lists(st.tuples(WHEN, st.booleans()), max_size=12).map(
    lambda specs: [
        Flag.model_validate(
            {"name": f"f{i}", "enabled": on, "when": when, "then": {"deny": {"message": "x"}}}
        )
        for i, (when, on) in enumerate(specs)
    ]
)

VALUES = st.sampled_from(["a", "b", "1", "", 1, 1.0, 2, True, False, 0, None, [1], {"x": 1}])
BODY_VALUE = st.recursive(VALUES, lambda inner: st.dictionaries(PATHS, inner, max_size=3))
PAYLOADS = st.none() | st.fixed_dictionaries(
    {},
    optional={
        "tier": VALUES,
        "metadata": BODY_VALUE,
        "a": BODY_VALUE,
        "max_tokens": st.sampled_from([1, 100, 500, None]),
        "tools": st.sampled_from([[], [{"type": "function"}]]),
    },
)
REQUEST_HEADERS = st.lists(
    st.tuples(
        HEADER_NAMES | st.sampled_from(["X-TIER", "content-type"]),
        st.sampled_from(["a", "b", "1", "true", "", "free"]),
    ),
    max_size=4,
)
REQUESTS = st.builds(
    Facts,
    api=st.none() | APIS | st.just("openai.embeddings"),
    model=st.none() | st.sampled_from(["gpt-4o", "gpt-4o-mini", "claude-3", "gpt-xo", "o1-["]),
    payload=PAYLOADS,
    subject=st.none() | SUBJECTS,
    headers=REQUEST_HEADERS.map(CIMultiDict),
    route_prefix=st.sampled_from(["/v1", "/v2", "/", "/other"]),
)
OVERRIDES = st.dictionaries(
    st.sampled_from([f"f{i}" for i in range(12)]),
    st.fixed_dictionaries(
        {}, optional={"enabled": st.booleans(), "percent": st.sampled_from([0, 40, 100])}
    ),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flags=FLAGS, requests=st.lists(REQUESTS, min_size=1, max_size=6), overrides=OVERRIDES)
def test_indexed_evaluation_agrees_with_judging_every_flag(
    flags: list[Flag], requests: list[Facts], overrides: dict[str, Any]
) -> None:
    flag_set = FlagSet(flags)
    for _ in range(2):  # the second time through, the per-model memo answers
        for request in requests:
            assert flag_set.evaluate(request) == flag_set.evaluate_each(request)
    flag_set.apply_runtime(overrides)  # ops switch flags and change percentages: no rebuild
    for request in requests:
        assert flag_set.evaluate(request) == flag_set.evaluate_each(request)


def _flag(name: str, when: dict[str, Any]) -> Flag:
    return Flag.model_validate({"name": name, "when": when, "then": {"deny": {"message": "x"}}})


MANY = [
    _flag("team-7", {"headers": {"x-team": "team-7"}}),
    _flag("team-8", {"headers": {"x-team": ["team-8", "team-7"]}, "percent": 50}),
    _flag("kill-a", {"headers": {"x-kill-a": "1"}}),
    _flag("tier", {"body": {"metadata.tier": "free"}}),
    _flag("vip", {"subjects": ["vip"], "headers": {"x-team": "team-7"}}),
    _flag("mini", {"models": ["*-mini"], "max_tokens_over": 10}),
    _flag("exact", {"models": ["gpt-4o"]}),
    _flag("v2", {"routes": ["/v2/"]}),
    _flag("anthropic", {"apis": ["anthropic.messages"]}),
    _flag("tools", {"tools": True}),
    _flag("half", {"percent": 50}),
    _flag("all", {}),
]


@pytest.mark.parametrize(
    ("request_facts", "candidates"),
    [
        ({}, ["tools", "half", "all"]),
        ({"headers": {"X-Team": "team-7"}}, ["team-7", "team-8", "tools", "half", "all"]),
        ({"headers": {"x-team": "team-9", "x-kill-a": "1"}}, ["kill-a", "tools", "half", "all"]),
        ({"payload": {"metadata": {"tier": "free"}}}, ["tier", "tools", "half", "all"]),
        ({"payload": {"metadata": "free"}}, ["tools", "half", "all"]),
        ({"subject": "vip"}, ["vip", "tools", "half", "all"]),
        ({"model": "gpt-4o-mini"}, ["mini", "tools", "half", "all"]),
        ({"model": "gpt-4o"}, ["exact", "tools", "half", "all"]),
        ({"model": None, "route_prefix": "/v2"}, ["v2", "tools", "half", "all"]),
        ({"api": "anthropic.messages"}, ["anthropic", "tools", "half", "all"]),
    ],
)
def test_a_request_judges_only_the_flags_its_facts_point_to(
    request_facts: dict[str, Any], candidates: list[str]
) -> None:
    changes = {"model": "claude-3", "subject": None, "payload": {}, **request_facts}
    index = FlagIndex(FlagSet(MANY).flags)
    assert [flag.name for _, flag, _ in index.candidates(facts(**changes))] == candidates


def test_more_configured_headers_than_the_request_has_walks_the_request_headers() -> None:
    flags = [_flag(f"kill-{i}", {"headers": {f"x-kill-{i}": "1"}}) for i in range(50)]
    flag_set = FlagSet([*flags, _flag("team", {"headers": {"X-Team": "a"}})])
    # A repeated header counts with its first value, as a lookup gives it.
    headers = CIMultiDict(
        [("X-Kill-3", "1"), ("x-team", "a"), ("x-kill-3", "2"), ("x-kill-4", "2")]
    )
    found = [f.name for f in flag_set.evaluate(facts(headers=headers))]
    assert (
        found
        == ["kill-3", "team"]
        == [f.name for f in flag_set.evaluate_each(facts(headers=headers))]
    )
