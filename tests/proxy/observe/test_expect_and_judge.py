"""expected_json (what the request asks for) and judge_json (the verdict on the answer)."""

from __future__ import annotations

import pytest

from proxy.observe.base import Observation
from proxy.observe.expect import JsonExpectation, expected_json
from proxy.stages.observe import judge_json

SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
TOOL_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


@pytest.mark.parametrize(
    ("api", "payload", "want"),
    [
        ("openai.chat", {}, None),
        ("openai.chat", {"response_format": {"type": "text"}}, None),
        ("openai.chat", {"response_format": {"type": "json_object"}}, JsonExpectation(True)),
        (
            "openai.chat",
            {"response_format": {"type": "json_schema", "json_schema": {"schema": SCHEMA}}},
            JsonExpectation(True, SCHEMA),
        ),
        (
            "openai.chat",
            {"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}},
            JsonExpectation(True, None),
        ),
        (
            "openai.chat",
            {"tools": [{"type": "function", "function": {"name": "f", "parameters": TOOL_SCHEMA}}]},
            JsonExpectation(False, None, {"f": TOOL_SCHEMA}),
        ),
        (
            "openai.chat",
            {"tools": [{"type": "function", "function": {"name": "f"}}]},
            JsonExpectation(False, None, {"f": None}),
        ),
        ("openai.chat", {"tools": [{"type": "web_search"}]}, None),
        ("openai.chat", {"response_format": "json_object"}, None),
        ("openai.responses", {"text": {"format": {"type": "json_object"}}}, JsonExpectation(True)),
        (
            "openai.responses",
            {"text": {"format": {"type": "json_schema", "name": "x", "schema": SCHEMA}}},
            JsonExpectation(True, SCHEMA),
        ),
        (
            "openai.responses",
            {"tools": [{"type": "function", "name": "f", "parameters": TOOL_SCHEMA}]},
            JsonExpectation(False, None, {"f": TOOL_SCHEMA}),
        ),
        ("openai.responses", {"text": {"format": {"type": "text"}}}, None),
        (
            "anthropic.messages",
            {"output_config": {"format": {"type": "json_schema", "schema": SCHEMA}}},
            JsonExpectation(True, SCHEMA),
        ),
        (
            "anthropic.messages",
            {"output_format": {"type": "json_schema", "schema": SCHEMA}},
            JsonExpectation(True, SCHEMA),
        ),
        (
            "anthropic.messages",
            {"tools": [{"name": "f", "input_schema": TOOL_SCHEMA}]},
            JsonExpectation(False, None, {"f": TOOL_SCHEMA}),
        ),
        ("anthropic.messages", {"tools": [{"type": "web_search_20250305", "name": "w"}]}, None),
        ("openai.embeddings", {"response_format": {"type": "json_object"}}, None),
    ],
)
def test_expected_json(api: str, payload: dict, want: JsonExpectation | None) -> None:
    assert expected_json(api, payload) == want


CONTENT = JsonExpectation(True)
WITH_SCHEMA = JsonExpectation(True, SCHEMA)
TOOLS = JsonExpectation(False, None, {"get_weather": TOOL_SCHEMA, "free": None})


@pytest.mark.parametrize(
    ("expect", "obs", "verdict"),
    [
        (CONTENT, Observation(content='{"x": 1}'), "valid"),
        (CONTENT, Observation(content="[1, 2]"), "valid"),
        (CONTENT, Observation(content='{"answer":"so teams ship'), "invalid_json"),
        (CONTENT, Observation(content="Sure! here it is"), "invalid_json"),
        (CONTENT, Observation(content=""), "invalid_json"),
        (CONTENT, Observation(content=None), "invalid_json"),
        (CONTENT, Observation(content='{"x": 1', truncated=True), "truncated"),
        (CONTENT, Observation(content='{"x": 1}', truncated=True), "truncated"),
        (WITH_SCHEMA, Observation(content='{"a": 1}'), "valid"),
        (WITH_SCHEMA, Observation(content='{"a": "one"}'), "schema_mismatch"),
        (WITH_SCHEMA, Observation(content="{}"), "schema_mismatch"),
        (WITH_SCHEMA, Observation(content="{"), "invalid_json"),
        (TOOLS, Observation(tool_calls=[("get_weather", '{"city":"Paris"}')]), "valid"),
        (TOOLS, Observation(tool_calls=[("get_weather", '{"city":')]), "invalid_json"),
        (TOOLS, Observation(tool_calls=[("get_weather", '{"city":3}')]), "schema_mismatch"),
        (TOOLS, Observation(tool_calls=[("get_weather", "[1]")]), "schema_mismatch"),
        (TOOLS, Observation(tool_calls=[("free", '{"anything":1}')]), "valid"),
        (TOOLS, Observation(tool_calls=[("unknown_tool", '{"a":1}')]), "valid"),
        (
            TOOLS,
            Observation(tool_calls=[("get_weather", '{"city":"P"}'), ("get_weather", "{")]),
            "invalid_json",
        ),
        (
            TOOLS,
            Observation(tool_calls=[("get_weather", '{"city":"P"}')], truncated=True),
            "truncated",
        ),
        (TOOLS, Observation(tool_calls=[("get_weather", '{"ci')], truncated=True), "truncated"),
        (TOOLS, Observation(content="I will not call a tool"), "valid"),
        (
            JsonExpectation(True, SCHEMA, {"get_weather": TOOL_SCHEMA}),
            Observation(content="", tool_calls=[("get_weather", '{"city":"P"}')]),
            "valid",
        ),
    ],
)
def test_judge_json(expect: JsonExpectation, obs: Observation, verdict: str) -> None:
    assert judge_json(expect, obs) == verdict
