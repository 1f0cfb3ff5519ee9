"""Deterministic output: words, JSON values filled from a schema, token estimates.

Nothing here is random: the same `key` (a CRC of the request body mixed with the seed) gives the
same words, so two identical requests get identical answers.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import orjson

_WORDS: tuple[str, ...] = tuple(
    [
        "the",
        "model",
        "reads",
        "your",
        "request",
        "and",
        "writes",
        "a",
        "short",
        "answer",
        "about",
        "release",
        "gates",
        "latency",
        "tokens",
        "cost",
        "budget",
        "shadow",
        "traffic",
        "candidate",
        "baseline",
        "cohort",
        "weight",
        "stage",
        "metric",
        "window",
        "sample",
        "proxy",
        "stream",
        "chunk",
        "header",
        "upstream",
        "provider",
        "prompt",
        "version",
        "config",
        "rollout",
        "promote",
        "hold",
        "pause",
        "resume",
        "approve",
        "rollback",
        "canary",
        "error",
        "rate",
        "refusal",
        "json",
        "schema",
        "tool",
        "call",
        "result",
        "value",
        "quick",
        "brown",
        "fox",
        "jumps",
        "over",
        "lazy",
        "dog",
        "while",
        "clear",
        "blue",
        "river",
        "flows",
        "past",
        "quiet",
        "green",
        "hills",
        "every",
        "small",
        "step",
        "counts",
        "toward",
        "steady",
        "progress",
        "with",
        "careful",
        "review",
        "and",
        "honest",
        "numbers",
        "so",
        "teams",
        "ship",
        "changes",
        "safely",
        "measure",
        "impact",
        "learn",
        "fast",
        "and",
        "keep",
        "users",
        "happy",
        "today",
    ]
)
_N = len(_WORDS)
_SPACED: tuple[str, ...] = tuple(" " + word for word in _WORDS)

REFUSAL_TEXT = "I'm sorry, but I can't help with that."
REFUSAL_PIECES: tuple[str, ...] = tuple(
    word if i == 0 else " " + word for i, word in enumerate(REFUSAL_TEXT.split(" "))
)


@lru_cache(maxsize=8192)
def word_pieces(start: int, n: int) -> tuple[str, ...]:
    """`n` word tokens starting at vocabulary position `start`: 'Word', ' word', …, ' word.'"""
    start %= _N
    pieces = [_SPACED[(start + i) % _N] for i in range(n)]
    pieces[0] = _WORDS[start].capitalize()
    pieces[-1] += "."
    return tuple(pieces)


def phrase(key: int, n: int) -> str:
    """A short lower-case phrase of `n` words (for string values inside JSON)."""
    return " ".join(_WORDS[(key + i) % _N] for i in range(n))


def split_pieces(text: str, n: int) -> list[str]:
    """Split `text` into `n` contiguous pieces of near-equal length (fewer if text is short)."""
    n = max(1, min(n, len(text)))
    size = len(text) / n
    return [text[round(i * size) : round((i + 1) * size)] for i in range(n)]


def truncate_json(text: str) -> str:
    """A proper prefix of a JSON object's text, which is never valid JSON."""
    return text[: max(1, len(text) // 2)]


_SKIP_KEYS = frozenset({"role", "type", "id", "tool_call_id", "tool_use_id", "cache_control"})


def count_words(value: Any) -> int:
    """Approximate token count: whitespace-separated words in every text field."""
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, list):
        return sum(count_words(item) for item in value)
    if isinstance(value, dict):
        return sum(count_words(v) for k, v in value.items() if k not in _SKIP_KEYS)
    return 0


# ---- JSON values from a JSON Schema ------------------------------------------------------------

_FORMATS = {
    "date": "2024-05-17",
    "date-time": "2024-05-17T12:00:00Z",
    "time": "12:00:00",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "123e4567-e89b-12d3-a456-426614174000",
}
_MAX_DEPTH = 8


def _resolve(schema: Any, root: dict[str, Any]) -> dict[str, Any]:
    for _ in range(_MAX_DEPTH):
        if not isinstance(schema, dict):
            return {}
        ref = schema.get("$ref")
        if not isinstance(ref, str) or not ref.startswith("#/"):
            return schema
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part) if isinstance(target, dict) else None
        schema = target
    return {}


def value_for(schema: Any, key: int, root: dict[str, Any] | None = None, depth: int = 0) -> Any:
    """A plausible value satisfying the common parts of `schema` (type, enum, bounds, format)."""
    if root is None:
        root = schema if isinstance(schema, dict) else {}
    schema = _resolve(schema, root)
    if depth > _MAX_DEPTH:
        return None
    if "const" in schema:
        return schema["const"]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[key % len(enum)]
    if "default" in schema:
        return schema["default"]
    for combo in ("anyOf", "oneOf", "allOf"):
        options = schema.get(combo)
        if isinstance(options, list) and options:
            chosen = next((o for o in options if _resolve(o, root).get("type") != "null"), None)
            if combo == "allOf":
                merged: dict[str, Any] = {}
                for option in options:
                    merged.update(_resolve(option, root))
                chosen = merged
            return value_for(chosen if chosen is not None else options[0], key, root, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "string"
    if kind == "object":
        props = schema.get("properties")
        if not isinstance(props, dict):
            return {}
        required = schema.get("required")
        names = [n for n in required if n in props] if isinstance(required, list) else list(props)
        return {
            name: value_for(props[name], key + i + 1, root, depth + 1)
            for i, name in enumerate(names)
        }
    if kind == "array":
        count = max(1, int(schema.get("minItems", 1) or 1))
        return [value_for(schema.get("items", {}), key + i, root, depth + 1) for i in range(count)]
    if kind == "integer":
        low = schema.get("minimum", 0)
        high = schema.get("maximum", low + 100)
        return int(low + (key % (int(high - low) + 1)))
    if kind == "number":
        low = float(schema.get("minimum", 0.0))
        high = float(schema.get("maximum", low + 10.0))
        return round(low + (high - low) * ((key % 100) / 100), 2)
    if kind == "boolean":
        return key % 2 == 0
    if kind == "null":
        return None
    fmt = schema.get("format")
    if isinstance(fmt, str) and fmt in _FORMATS:
        return _FORMATS[fmt]
    return phrase(key, 2 + key % 3)


def json_text(schema: Any, key: int, words: int) -> str:
    """Compact JSON text: a value from `schema`, or `{"answer": "<words>"}` without one."""
    if isinstance(schema, dict) and schema:
        value = value_for(schema, key)
    else:
        value = {"answer": phrase(key, words)}
    return orjson.dumps(value).decode()
