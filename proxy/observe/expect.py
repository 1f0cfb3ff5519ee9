"""What the request says the answer must be: JSON content (with a schema or not), tool calls
whose arguments must match their declared schemas."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class JsonExpectation:
    content: bool = False  # the text itself must be JSON
    content_schema: dict[str, Any] | None = None
    tools: dict[str, dict[str, Any] | None] = field(default_factory=dict)  # name -> schema


def expected_json(api: str, payload: dict[str, Any]) -> JsonExpectation | None:
    """None when the request asked for neither JSON nor tools: there is nothing to check."""
    if api == "openai.chat":
        content, schema = _openai_format(payload.get("response_format"))
        tools = {
            (t.get("function") or {}).get("name", ""): (t.get("function") or {}).get("parameters")
            for t in payload.get("tools") or ()
            if isinstance(t, dict) and t.get("type") == "function"
        }
    elif api == "openai.responses":
        text = payload.get("text")
        content, schema = _openai_format(text.get("format") if isinstance(text, dict) else None)
        tools = {
            t.get("name", ""): t.get("parameters")
            for t in payload.get("tools") or ()
            if isinstance(t, dict) and t.get("type") == "function"
        }
    elif api == "anthropic.messages":
        config = payload.get("output_config")  # GA; the beta had a top-level output_format
        fmt = config.get("format") if isinstance(config, dict) else None
        content, schema = _openai_format(fmt or payload.get("output_format"))
        tools = {
            t.get("name", ""): t.get("input_schema")
            for t in payload.get("tools") or ()
            if isinstance(t, dict) and "input_schema" in t
        }
    else:
        return None
    if not content and not tools:
        return None
    return JsonExpectation(content, schema, tools)


def _openai_format(spec: Any) -> tuple[bool, dict[str, Any] | None]:
    if not isinstance(spec, dict):
        return False, None
    kind = spec.get("type")
    if kind == "json_object":
        return True, None
    if kind == "json_schema":
        # chat: {"json_schema": {"schema": ...}}; responses / anthropic: {"schema": ...}
        holder = spec.get("json_schema") if isinstance(spec.get("json_schema"), dict) else spec
        schema = holder.get("schema")
        return True, schema if isinstance(schema, dict) else None
    return False, None
