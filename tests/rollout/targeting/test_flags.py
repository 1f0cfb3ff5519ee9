"""FlagSet (evaluation, runtime overrides) and the payload edits flags make."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest

from rollout.config.flags import Flag
from rollout.targeting.cohorts import bucket
from rollout.targeting.flags import FlagSet, cap_fields, set_fields, strip_tools
from tests.rollout.targeting.test_matching import facts


def flag(name: str, when: dict[str, Any] | None = None, **config: Any) -> Flag:
    return Flag(name=name, when=when or {}, then={"arm": "candidate"}, **config)


def names(flag_set: FlagSet, **changes: Any) -> list[str]:
    return [f.name for f in flag_set.evaluate(facts(**changes))]


FLAGS = [
    flag("all"),
    flag("gpt", {"models": ["gpt-*"]}),
    flag("off", enabled=False),
    flag("claude", {"models": ["claude-*"]}),
    flag("half", {"percent": 50}),
]


def test_evaluate_returns_enabled_matches_in_config_order() -> None:
    flags = FlagSet(FLAGS)
    assert names(flags, model="gpt-4o", subject=None) == ["all", "gpt"]
    assert names(flags, model="claude-3", subject=None) == ["all", "claude"]
    assert len(flags) == 5


def test_empty_flag_set_matches_nothing() -> None:
    flags = FlagSet([])
    assert not flags and flags.evaluate(facts()) == []


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, ["all", "gpt"]),
        ({"off": {"enabled": True}}, ["all", "gpt", "off"]),
        ({"all": {"enabled": False}, "gpt": {"enabled": False}}, []),
        ({"half": {"percent": 100}}, ["all", "gpt", "half"]),
        ({"all": {"percent": 0}}, ["gpt"]),
        ({"all": {"percent": 0, "enabled": None}}, ["gpt"]),
        ({"off": {"enabled": True, "percent": 0}}, ["all", "gpt"]),
        ({"off": None}, ["all", "gpt"]),
        ({"off": {}}, ["all", "gpt"]),
    ],
)
def test_runtime_overrides(overrides: dict[str, Any], expected: list[str]) -> None:
    flags = FlagSet(FLAGS)
    assert flags.apply_runtime(overrides) == []
    # subject=None: "half" (50%) only matches when its percent is set to 100
    assert names(flags, model="gpt-4o", subject=None) == expected


def test_flags_left_out_of_the_document_go_back_to_their_config() -> None:
    flags = FlagSet(FLAGS)
    flags.apply_runtime(
        {"off": {"enabled": True}, "all": {"enabled": False}, "half": {"percent": 1}}
    )
    flags.apply_runtime({"half": {"enabled": False}})
    assert names(flags, model="gpt-4o", subject=None) == ["all", "gpt"]
    assert [(f.enabled, f.percent) for f in flags.flags] == [
        (True, None),
        (True, None),
        (False, None),
        (True, None),
        (False, 50),
    ]


def test_runtime_percent_ramps_a_flag() -> None:
    flags = FlagSet([flag("ramp", {"percent": 0})])
    subject = "user:alice"
    position = bucket("flag:ramp:percent", subject) * 100  # the flag's own salt
    assert names(flags, subject=subject) == []
    flags.apply_runtime({"ramp": {"percent": position + 1e-9}})
    assert names(flags, subject=subject) == ["ramp"]
    flags.apply_runtime({"ramp": {"percent": position}})
    assert names(flags, subject=subject) == []


def test_unknown_flags_are_returned_not_applied() -> None:
    flags = FlagSet(FLAGS)
    assert flags.apply_runtime({"zeta": {"enabled": 1}, "alpha": {}, "off": {"enabled": True}}) == [
        "alpha",
        "zeta",
    ]
    assert "off" in names(flags)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ([], "flag overrides must be a mapping of flag names (got [])"),
        ({"off": True}, "flag 'off': override must be a mapping (got True)"),
        ({"off": {"enabled": "yes"}}, "flag 'off': enabled must be true or false (got 'yes')"),
        ({"off": {"enabled": 1}}, "flag 'off': enabled must be true or false (got 1)"),
        (
            {"half": {"percent": 101}},
            "flag 'half': percent must be a number from 0 to 100 (got 101)",
        ),
        ({"half": {"percent": -1}}, "flag 'half': percent must be a number from 0 to 100 (got -1)"),
        (
            {"half": {"percent": math.nan}},
            "flag 'half': percent must be a number from 0 to 100 (got nan)",
        ),
        (
            {"half": {"percent": "10"}},
            "flag 'half': percent must be a number from 0 to 100 (got '10')",
        ),
        (
            {"half": {"percent": True}},
            "flag 'half': percent must be a number from 0 to 100 (got True)",
        ),
        (
            {"off": {"enabled": True, "weight": 2}},
            "flag 'off': unknown override key 'weight' (known: enabled, percent)",
        ),
    ],
)
def test_invalid_overrides_change_nothing(overrides: Any, message: str) -> None:
    flags = FlagSet(FLAGS)
    flags.apply_runtime({"all": {"enabled": False}})
    # "all" first, so that the valid part of the document would have applied before the error
    with pytest.raises(ValueError) as info:
        flags.apply_runtime({"all": {"enabled": True}, **overrides} if overrides else overrides)
    assert str(info.value) == message
    assert names(flags, model="gpt-4o", subject=None) == ["gpt"]
    assert [f.percent for f in flags.flags] == [None, None, None, None, 50]


@pytest.mark.parametrize(
    ("api", "payload", "caps", "after"),
    [
        # max_tokens: the API's own output limit, lowered where present
        ("openai.chat", {"max_tokens": 4000}, {"max_tokens": 1000}, {"max_tokens": 1000}),
        (
            "openai.chat",
            {"max_completion_tokens": 4000},
            {"max_tokens": 1000},
            {"max_completion_tokens": 1000},
        ),
        (
            "openai.chat",
            {"max_completion_tokens": 4000, "max_tokens": 3000},
            {"max_tokens": 1000},
            {"max_completion_tokens": 1000, "max_tokens": 1000},
        ),
        (
            "openai.chat",
            {"max_completion_tokens": 500, "max_tokens": 3000},
            {"max_tokens": 1000},
            {"max_completion_tokens": 500, "max_tokens": 1000},
        ),
        ("openai.chat", {"max_tokens": 500}, {"max_tokens": 1000}, None),
        ("openai.chat", {"max_tokens": 1000}, {"max_tokens": 1000}, None),
        # ... and added when the request sets none (unbounded)
        ("openai.chat", {}, {"max_tokens": 1000}, {"max_completion_tokens": 1000}),
        (
            "openai.chat",
            {"max_tokens": None},
            {"max_tokens": 1000},
            {"max_tokens": None, "max_completion_tokens": 1000},
        ),
        ("openai.responses", {}, {"max_tokens": 1000}, {"max_output_tokens": 1000}),
        (
            "openai.responses",
            {"max_output_tokens": 9000},
            {"max_tokens": 1000},
            {"max_output_tokens": 1000},
        ),
        ("openai.completions", {}, {"max_tokens": 1000}, {"max_tokens": 1000}),
        ("anthropic.messages", {"max_tokens": 8192}, {"max_tokens": 1000}, {"max_tokens": 1000}),
        ("anthropic.messages", {}, {"max_tokens": 1000}, {"max_tokens": 1000}),
        ("openai.embeddings", {}, {"max_tokens": 1000}, None),
        # other keys: literal top-level numbers, only lowered
        ("openai.chat", {"n": 8}, {"n": 2}, {"n": 2}),
        ("openai.chat", {"n": 1}, {"n": 2}, None),
        ("openai.chat", {}, {"n": 2}, None),
        ("openai.chat", {"n": "8"}, {"n": 2}, None),
        ("openai.chat", {"n": True}, {"n": 0}, None),
        ("openai.chat", {"top_logprobs": 10.5}, {"top_logprobs": 5}, {"top_logprobs": 5}),
        (
            "openai.chat",
            {"n": 8, "max_tokens": 10},
            {"n": 2, "max_tokens": 100},
            {"n": 2, "max_tokens": 10},
        ),
    ],
)
def test_cap_fields(
    api: str, payload: dict[str, Any], caps: dict[str, int], after: dict[str, Any] | None
) -> None:
    before = copy.deepcopy(payload)
    assert cap_fields(api, payload, caps) is (after is not None)
    assert payload == (before if after is None else after)


@pytest.mark.parametrize(
    ("payload", "values", "after"),
    [
        ({}, {"temperature": 0.2}, {"temperature": 0.2}),
        ({"temperature": 1}, {"temperature": 0.2}, {"temperature": 0.2}),
        ({"temperature": 0.2}, {"temperature": 0.2}, None),
        ({"logprobs": 1}, {"logprobs": True}, {"logprobs": True}),  # true is not 1
        ({"seed": 1.0}, {"seed": 1}, {"seed": 1}),
        ({"user": None}, {"user": None}, None),
        ({}, {"user": None}, {"user": None}),
        ({"metadata": {"a": 1}}, {"metadata": {"a": 1}}, None),
        ({"a": 1}, {"b": 2, "a": 1}, {"a": 1, "b": 2}),
    ],
)
def test_set_fields(
    payload: dict[str, Any], values: dict[str, Any], after: dict[str, Any] | None
) -> None:
    before = copy.deepcopy(payload)
    assert set_fields(payload, values) is (after is not None)
    assert payload == (before if after is None else after)


def test_set_fields_copies_containers() -> None:
    values = {"stream_options": {"include_usage": False}, "stop": ["a"]}
    payload: dict[str, Any] = {}
    set_fields(payload, values)
    payload["stream_options"]["include_usage"] = True
    payload["stop"].append("b")
    assert values == {"stream_options": {"include_usage": False}, "stop": ["a"]}


TOOLS = [{"type": "function", "function": {"name": "f"}}]


@pytest.mark.parametrize(
    ("api", "payload", "after"),
    [
        (
            "openai.chat",
            {
                "model": "m",
                "tools": TOOLS,
                "tool_choice": "auto",
                "parallel_tool_calls": False,
                "functions": [],
                "function_call": "auto",
            },
            {"model": "m"},
        ),
        ("openai.responses", {"tools": [], "tool_choice": "none"}, {}),
        ("openai.chat", {"model": "m"}, None),
        (
            "anthropic.messages",
            {"model": "m", "tools": TOOLS, "tool_choice": {"type": "auto"}},
            {"model": "m"},
        ),
        # Anthropic has no parallel_tool_calls field: a same-named one is not ours to drop
        ("anthropic.messages", {"parallel_tool_calls": 1}, None),
        (
            "openai.chat",
            {"messages": [{"role": "tool", "content": "x"}], "tools": TOOLS},
            {"messages": [{"role": "tool", "content": "x"}]},
        ),
    ],
)
def test_strip_tools(api: str, payload: dict[str, Any], after: dict[str, Any] | None) -> None:
    before = copy.deepcopy(payload)
    assert strip_tools(api, payload) is (after is not None)
    assert payload == (before if after is None else after)
