"""JSON answer and tool-argument checks: one status per input, validators compiled once."""

from __future__ import annotations

import pytest

from rollout.quality import json_validity
from rollout.quality.json_validity import check_json, check_tool_arguments, clear_validator_cache

PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name", "age"],
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    ("text", "schema", "truncated", "expected"),
    [
        ('{"name": "Ada", "age": 36}', None, False, "valid"),
        ('  {"name": "Ada", "age": 36}\n', PERSON, False, "valid"),
        ("[1, 2, 3]", None, False, "valid"),  # any JSON value, without a schema
        ('"just a string"', None, False, "valid"),
        ('{"name": "Ada", "age": 36', None, False, "invalid_json"),  # unclosed
        ("", None, False, "invalid_json"),
        ("{'name': 'Ada'}", None, False, "invalid_json"),  # Python, not JSON
        ('{"a": NaN}', None, False, "invalid_json"),
        ('{"a": 1} trailing', None, False, "invalid_json"),
        ('```json\n{"a": 1}\n```', None, False, "invalid_json"),  # fences are not stripped
        ('{"name": "Ada"}', PERSON, False, "schema_mismatch"),  # missing required
        ('{"name": "Ada", "age": -1}', PERSON, False, "schema_mismatch"),
        ('{"name": "Ada", "age": 36, "x": 1}', PERSON, False, "schema_mismatch"),
        ('{"name": "Ada", "age": "36"}', PERSON, False, "schema_mismatch"),
        ("[]", PERSON, False, "schema_mismatch"),
        ('{"name": "Ada", "age": 36}', PERSON, True, "truncated"),  # parses, still truncated
        ('{"name": "Ada", "ag', PERSON, True, "truncated"),
        ('{"name": "Ada", "age": 36}', True, False, "valid"),  # boolean schemas
        ('{"name": "Ada", "age": 36}', False, False, "schema_mismatch"),
    ],
)
def test_check_json(text: str, schema: object, truncated: bool, expected: str) -> None:
    assert check_json(text, schema, truncated=truncated) == expected  # type: ignore[arg-type]


def test_bytes_are_accepted() -> None:
    assert check_json(b'{"name": "Ada", "age": 1}', PERSON) == "valid"


def test_schema_dialect_is_honoured() -> None:
    # Draft 4 spells an exclusive maximum as a boolean modifier; 2020-12 would reject it.
    draft4 = {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "type": "number",
        "maximum": 10,
        "exclusiveMaximum": True,
    }
    assert check_json("9", draft4) == "valid"
    assert check_json("10", draft4) == "schema_mismatch"


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "no-such-type"},  # invalid schema
        {"$ref": "https://example.invalid/schema.json"},  # unresolvable reference
    ],
)
def test_unusable_schema_only_checks_parsing(schema: dict) -> None:
    assert check_json('{"a": 1}', schema) == "valid"
    assert check_json('{"a": ', schema) == "invalid_json"


def test_remote_references_are_never_fetched(monkeypatch: pytest.MonkeyPatch) -> None:
    # jsonschema's default registry would urlopen() a remote "$ref": a request to any URL a
    # client writes into its schema, from the proxy's hot path.
    import urllib.request

    fetched: list[object] = []

    def fake_urlopen(*args: object, **kwargs: object) -> None:
        fetched.append(args)
        raise OSError("no network in tests")

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    clear_validator_cache()
    schema = {"properties": {"a": {"$ref": "https://example.invalid/remote.json"}}}
    assert check_json('{"a": 1}', schema) == "valid"
    assert fetched == []


def test_validators_are_compiled_once_per_distinct_schema() -> None:
    clear_validator_cache()
    same_in_other_key_order = {
        "additionalProperties": False,
        "required": ["name", "age"],
        "properties": {"age": {"minimum": 0, "type": "integer"}, "name": {"type": "string"}},
        "type": "object",
    }
    for _ in range(3):
        assert check_json('{"name": "A", "age": 1}', PERSON) == "valid"
        assert check_json('{"name": "A", "age": 1}', same_in_other_key_order) == "valid"
    info = json_validity._validator_for_key.cache_info()
    assert (info.misses, info.hits) == (1, 5)
    assert info.maxsize == 256


WEATHER = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
    "required": ["city"],
}


@pytest.mark.parametrize(
    ("arguments", "schema", "truncated", "expected"),
    [
        ('{"city": "Paris", "unit": "c"}', WEATHER, False, "valid"),  # OpenAI: a string
        ({"city": "Paris", "unit": "c"}, WEATHER, False, "valid"),  # Anthropic: parsed already
        ({"city": "Paris", "unit": "k"}, WEATHER, False, "schema_mismatch"),
        ('{"unit": "c"}', WEATHER, False, "schema_mismatch"),
        ('{"city": "Par', WEATHER, False, "invalid_json"),
        ("", WEATHER, False, "invalid_json"),
        ("{}", None, False, "valid"),
        ('["Paris"]', None, False, "schema_mismatch"),  # arguments are always an object
        ("42", None, False, "schema_mismatch"),
        ('{"city": "Paris"}', WEATHER, True, "truncated"),
    ],
)
def test_check_tool_arguments(
    arguments: object, schema: object, truncated: bool, expected: str
) -> None:
    result = check_tool_arguments(arguments, schema, truncated=truncated)  # type: ignore[arg-type]
    assert result == expected
