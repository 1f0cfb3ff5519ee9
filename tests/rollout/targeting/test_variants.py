"""apply_prompt / apply_params / apply_model: each API shape's payload before and after."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from rollout.targeting.variants import apply_model, apply_params, apply_prompt

P = "Be brief."
USER = {"role": "user", "content": "hi"}
USER_PARTS = {"role": "user", "content": [{"type": "text", "text": "hi"}]}
SYS = {"role": "system", "content": "old"}
SYS_PARTS = {"role": "system", "content": [{"type": "text", "text": "old parts"}]}
DEV = {"role": "developer", "content": "old dev"}
ASSISTANT = {"role": "assistant", "content": "hello"}


def _sys(text: str = P, role: str = "system") -> dict[str, str]:
    return {"role": role, "content": text}


def _block(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "text", "text": text, **extra}


EPHEMERAL = {"type": "ephemeral"}
HOUR = {"type": "ephemeral", "ttl": "1h"}

# (api, mode, prompt text, payload before, payload after); apply_prompt returns True for all.
APPLIED = [
    # OpenAI chat: replace leaves one system-prompt message, first, in the request's role.
    ("openai.chat", "replace", P, {"messages": [SYS, USER]}, {"messages": [_sys(), USER]}),
    ("openai.chat", "replace", P, {"messages": [USER]}, {"messages": [_sys(), USER]}),
    ("openai.chat", "replace", P, {"messages": []}, {"messages": [_sys()]}),
    (
        "openai.chat",
        "replace",
        P,
        {"messages": [DEV, USER, ASSISTANT, SYS, USER]},
        {"messages": [_sys(role="developer"), USER, ASSISTANT, USER]},
    ),
    (
        "openai.chat",
        "replace",
        P,
        {"messages": [USER, SYS_PARTS, USER_PARTS]},
        {"messages": [_sys(), USER, USER_PARTS]},
    ),
    # ... prepend adds a message before everything and keeps the request's own.
    (
        "openai.chat",
        "prepend",
        P,
        {"messages": [SYS, USER]},
        {"messages": [_sys(), SYS, USER]},
    ),
    (
        "openai.chat",
        "prepend",
        P,
        {"messages": [DEV, USER_PARTS]},
        {"messages": [_sys(role="developer"), DEV, USER_PARTS]},
    ),
    (
        "openai.chat",
        "prepend",
        P,
        {"messages": [USER, SYS_PARTS]},
        {"messages": [_sys(), USER, SYS_PARTS]},
    ),
    ("openai.chat", "prepend", P, {"messages": [USER]}, {"messages": [_sys(), USER]}),
    # ... messages that are not objects are the provider's to refuse: kept where they were.
    ("openai.chat", "replace", P, {"messages": ["x", SYS]}, {"messages": [_sys(), "x"]}),
    # ... surrounding whitespace (a file's final newline) is not part of the prompt.
    (
        "openai.chat",
        "replace",
        "\n Be brief.\n\n",
        {"messages": [USER]},
        {"messages": [_sys(), USER]},
    ),
    # ... an empty prompt: replace removes the system prompt, prepend changes nothing.
    ("openai.chat", "replace", "", {"messages": [DEV, SYS, USER]}, {"messages": [USER]}),
    ("openai.chat", "replace", " \n", {"messages": [USER]}, {"messages": [USER]}),
    ("openai.chat", "prepend", "", {"messages": [SYS, USER]}, {"messages": [SYS, USER]}),
    # OpenAI Responses: the `instructions` string.
    ("openai.responses", "replace", P, {"input": "hi"}, {"input": "hi", "instructions": P}),
    (
        "openai.responses",
        "replace",
        P,
        {"input": "hi", "instructions": "old"},
        {"input": "hi", "instructions": P},
    ),
    (
        "openai.responses",
        "replace",
        P,
        {"input": "hi", "instructions": None},
        {"input": "hi", "instructions": P},
    ),
    # ... replace also drops system/developer messages from a list input; other items stay.
    (
        "openai.responses",
        "replace",
        P,
        {
            "input": [
                DEV,
                {"type": "message", "role": "system", "content": "old"},
                USER,
                {"type": "function_call_output", "call_id": "c1", "output": "42"},
            ]
        },
        {
            "instructions": P,
            "input": [USER, {"type": "function_call_output", "call_id": "c1", "output": "42"}],
        },
    ),
    (
        "openai.responses",
        "prepend",
        P,
        {"input": "hi", "instructions": "old"},
        {"input": "hi", "instructions": P + "\n\nold"},
    ),
    ("openai.responses", "prepend", P, {"input": "hi"}, {"input": "hi", "instructions": P}),
    (
        "openai.responses",
        "prepend",
        P,
        {"input": "hi", "instructions": ""},
        {"input": "hi", "instructions": P},
    ),
    (
        "openai.responses",
        "prepend",
        P,
        {"input": [DEV, USER]},
        {"input": [DEV, USER], "instructions": P},
    ),
    (
        "openai.responses",
        "replace",
        "",
        {"input": [DEV, USER], "instructions": "old"},
        {"input": [USER]},
    ),
    (
        "openai.responses",
        "prepend",
        "",
        {"input": "hi", "instructions": "old"},
        {"input": "hi", "instructions": "old"},
    ),
    # Anthropic messages: `system` absent, a string, or a list of text blocks.
    ("anthropic.messages", "replace", P, {}, {"system": P}),
    ("anthropic.messages", "replace", P, {"system": "old"}, {"system": P}),
    ("anthropic.messages", "replace", P, {"system": None}, {"system": P}),
    ("anthropic.messages", "replace", P, {"system": []}, {"system": [_block(P)]}),
    (
        "anthropic.messages",
        "replace",
        P,
        {"system": [_block("a"), _block("b")]},
        {"system": [_block(P)]},
    ),
    # ... a cached system prompt stays cached: the last cache mark moves to the new block.
    (
        "anthropic.messages",
        "replace",
        P,
        {"system": [_block("a", cache_control=EPHEMERAL), _block("b", cache_control=HOUR)]},
        {"system": [_block(P, cache_control=HOUR)]},
    ),
    (
        "anthropic.messages",
        "replace",
        P,
        {"system": [_block("a", cache_control=EPHEMERAL), _block("b")]},
        {"system": [_block(P, cache_control=EPHEMERAL)]},
    ),
    ("anthropic.messages", "prepend", P, {}, {"system": P}),
    ("anthropic.messages", "prepend", P, {"system": ""}, {"system": P}),
    ("anthropic.messages", "prepend", P, {"system": "old"}, {"system": P + "\n\nold"}),
    (
        "anthropic.messages",
        "prepend",
        P,
        {"system": [_block("a", cache_control=EPHEMERAL)]},
        {"system": [_block(P), _block("a", cache_control=EPHEMERAL)]},
    ),
    ("anthropic.messages", "replace", "", {"system": "old"}, {}),
    ("anthropic.messages", "replace", "", {"system": [_block("a", cache_control=HOUR)]}, {}),
    ("anthropic.messages", "replace", "", {}, {}),
    ("anthropic.messages", "prepend", "", {"system": "old"}, {"system": "old"}),
    ("anthropic.messages", "prepend", "", {"system": [_block("a")]}, {"system": [_block("a")]}),
]


@pytest.mark.parametrize(("api", "mode", "text", "before", "after"), APPLIED)
def test_apply_prompt(api: str, mode: str, text: str, before: dict, after: dict) -> None:
    payload = copy.deepcopy(before)
    assert apply_prompt(api, payload, text, mode) is True  # type: ignore[arg-type]
    assert payload == after


# (api, payload): no system prompt in this API, or a slot the provider will refuse anyway.
NOT_APPLICABLE = [
    ("openai.completions", {"model": "m", "prompt": "Say hi"}),
    ("openai.embeddings", {"model": "m", "input": "text"}),
    (None, {"anything": 1}),
    ("openai.chat", {"model": "m"}),  # no messages key
    ("openai.chat", {"messages": "hi"}),
    ("openai.chat", {"messages": None}),
    ("openai.responses", {"input": [DEV, USER], "instructions": ["not", "a", "string"]}),
    ("anthropic.messages", {"system": {"type": "text", "text": "old"}}),
    ("anthropic.messages", {"system": 3}),
]


@pytest.mark.parametrize("mode", ["replace", "prepend"])
@pytest.mark.parametrize(("api", "before"), NOT_APPLICABLE)
def test_apply_prompt_not_applicable(api: str | None, before: dict, mode: str) -> None:
    payload = copy.deepcopy(before)
    assert apply_prompt(api, payload, P, mode) is False  # type: ignore[arg-type]
    assert payload == before


@pytest.mark.parametrize(
    ("before", "model", "changed", "after"),
    [
        ({"model": "gpt-4o"}, "gpt-4o-mini", True, {"model": "gpt-4o-mini"}),
        ({"model": "gpt-4o-mini"}, "gpt-4o-mini", False, {"model": "gpt-4o-mini"}),
        ({}, "gpt-4o-mini", True, {"model": "gpt-4o-mini"}),
        ({"model": None}, "m", True, {"model": "m"}),
    ],
)
def test_apply_model(before: dict, model: str, changed: bool, after: dict) -> None:
    assert apply_model(before, model) is changed
    assert before == after


@pytest.mark.parametrize(
    ("before", "params", "changed", "after"),
    [
        ({"temperature": 1}, {}, False, {"temperature": 1}),
        ({}, {"temperature": 0.2}, True, {"temperature": 0.2}),
        ({"temperature": 1}, {"temperature": 0.2}, True, {"temperature": 0.2}),
        ({"temperature": 0.2}, {"temperature": 0.2}, False, {"temperature": 0.2}),
        (
            {"temperature": 0.2},
            {"temperature": 0.2, "top_p": 1},
            True,
            {"temperature": 0.2, "top_p": 1},
        ),
        ({"top_p": None}, {"top_p": None}, False, {"top_p": None}),
        ({}, {"top_p": None}, True, {"top_p": None}),
        (
            {"reasoning": {"effort": "high"}},
            {"reasoning": {"effort": "low"}},
            True,
            {"reasoning": {"effort": "low"}},
        ),
    ],
)
def test_apply_params(before: dict, params: dict, changed: bool, after: dict) -> None:
    assert apply_params(before, params) is changed
    assert before == after


def test_apply_params_never_shares_values_with_the_config() -> None:
    params = {"reasoning": {"effort": "low"}, "stop": ["\n"]}
    first, second = {}, {}
    apply_params(first, params)
    first["reasoning"]["effort"] = "high"  # a later stage editing its request in place
    first["stop"].append("END")
    apply_params(second, params)
    assert params == {"reasoning": {"effort": "low"}, "stop": ["\n"]}
    assert second == params
