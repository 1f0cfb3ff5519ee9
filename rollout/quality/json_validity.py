"""Is a model's JSON answer usable? One status per answer, for the json_validity gate.

Statuses:
  "valid"            parses, and matches the schema when one is given
  "invalid_json"     does not parse (orjson: strict RFC 8259, no NaN, no BOM, no trailing text)
  "schema_mismatch"  parses, but fails the schema
  "truncated"        the provider stopped on the token limit (OpenAI finish_reason "length",
                     Anthropic stop_reason "max_tokens"); counted as invalid whatever the text,
                     because a cut-off answer that happens to parse is still not what was asked

Schemas usually come from the request (`response_format.json_schema.schema`, a tool's
`parameters` / `input_schema`), so the same few schemas recur on every call: validators are built
once per distinct schema and kept in a bounded LRU keyed by the schema's canonical JSON.
A schema that is itself broken (or refers to something unresolvable) cannot judge the model, so
the answer is then only checked for parsing; the client's mistake is not the candidate's failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Final, Literal

import orjson
from jsonschema import exceptions as jsonschema_exceptions
from jsonschema import validators
from jsonschema_specifications import REGISTRY as METASCHEMAS

JsonStatus = Literal["valid", "invalid_json", "schema_mismatch", "truncated"]

VALID: Final = "valid"
INVALID_JSON: Final = "invalid_json"
SCHEMA_MISMATCH: Final = "schema_mismatch"
TRUNCATED: Final = "truncated"
STATUSES: Final = (VALID, INVALID_JSON, SCHEMA_MISMATCH, TRUNCATED)

VALIDATOR_CACHE_SIZE = 256


class _Unusable:
    """Cache marker for a schema that cannot be used (invalid, or not serialisable)."""


_UNUSABLE = _Unusable()


@lru_cache(maxsize=VALIDATOR_CACHE_SIZE)
def _validator_for_key(key: bytes) -> Any:
    """The compiled validator for a canonical schema dump, or _UNUSABLE."""
    schema = orjson.loads(key)
    # validator_for honours "$schema" and defaults to the latest draft (2020-12).
    cls = validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except jsonschema_exceptions.SchemaError:
        return _UNUSABLE
    # The registry knows the official meta-schemas and retrieves nothing: jsonschema's default
    # would fetch a remote "$ref" with urlopen — network I/O on the hot path, and a request to any
    # URL a client writes into its schema. No format checker: providers' structured outputs do
    # not enforce "format" either.
    return cls(schema, registry=METASCHEMAS)


def _validator(schema: Mapping[str, Any] | bool) -> Any:
    try:
        # Sorted keys: the same schema written in another key order shares one validator.
        key = orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # orjson.JSONEncodeError: not JSON (non-str keys, odd values)
        return _UNUSABLE
    return _validator_for_key(key)


def _matches(instance: Any, schema: Mapping[str, Any] | bool) -> bool | None:
    """True/False when the schema could judge the instance, None when it could not."""
    validator = _validator(schema)
    if validator is _UNUSABLE:
        return None
    try:
        return bool(validator.is_valid(instance))
    except Exception:
        # e.g. referencing.exceptions.Unresolvable for a remote "$ref": the schema cannot be
        # evaluated here, which says nothing about the model's answer.
        return None


def check_json(
    text: str | bytes, schema: Mapping[str, Any] | bool | None = None, truncated: bool = False
) -> JsonStatus:
    """Status of `text` as a JSON answer; the caller sets `truncated` from the stop reason."""
    if truncated:
        return TRUNCATED
    try:
        instance = orjson.loads(text)
    except orjson.JSONDecodeError:
        return INVALID_JSON
    return _check_instance(instance, schema)


def _check_instance(instance: Any, schema: Mapping[str, Any] | bool | None) -> JsonStatus:
    if schema is None:
        return VALID
    return SCHEMA_MISMATCH if _matches(instance, schema) is False else VALID


def check_tool_arguments(
    arguments: str | bytes | Mapping[str, Any],
    schema: Mapping[str, Any] | bool | None,
    truncated: bool = False,
) -> JsonStatus:
    """Status of one tool call's arguments against the tool's parameter schema.

    OpenAI sends arguments as a JSON string (`function.arguments`), Anthropic as an already
    parsed object (`tool_use.input`). Both APIs define arguments as a JSON object, so anything
    else (an array, a number) is a schema mismatch even when no schema is given.
    """
    if truncated:
        return TRUNCATED
    if isinstance(arguments, str | bytes):
        try:
            instance = orjson.loads(arguments)
        except orjson.JSONDecodeError:
            return INVALID_JSON
    else:
        instance = arguments
    if not isinstance(instance, Mapping):
        return SCHEMA_MISMATCH
    return _check_instance(instance, schema)


def clear_validator_cache() -> None:
    """Drop every compiled validator (tests; config reloads that replace many schemas)."""
    _validator_for_key.cache_clear()
