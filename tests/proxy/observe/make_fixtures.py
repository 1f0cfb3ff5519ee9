"""Regenerate the golden fixtures from the fake provider:
`python -m tests.proxy.observe.make_fixtures`.

Each fixture is the raw response body the fake sends (its real wire format). The first word of
every text answer gets a non-ASCII prefix (NON_ASCII) spliced in, so chunk splits also cut
multi-byte UTF-8 characters. Hand-written fixtures (shapes from the providers' API docs, for cases
the fake does not produce) live beside these and are not touched here.
"""

from __future__ import annotations

import gzip
import json
import re
import urllib.request
from pathlib import Path

from proxy.fake_provider import build_app
from tests.support.servers import serve_in_thread

FIXTURES = Path(__file__).parent / "fixtures"
NON_ASCII = "café — 東京 "

_WEATHER = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
    "required": ["city", "days"],
}
_CHAT_TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": _WEATHER}}]
_RESP_TOOLS = [{"type": "function", "name": "get_weather", "parameters": _WEATHER}]
_ANTH_TOOLS = [{"name": "get_weather", "input_schema": _WEATHER}]
_MSGS = [{"role": "user", "content": "hi"}]
_ANTH = {"anthropic-version": "2023-06-01"}

# name -> (path, body, extra headers, splice the non-ASCII prefix)
CASES: dict[str, tuple[str, dict, dict, bool]] = {
    "chat.json": ("/v1/chat/completions", {"model": "gpt-4o-mini", "messages": _MSGS}, {}, True),
    "chat_stream_usage.sse": (
        "/v1/chat/completions",
        {
            "model": "gpt-4o-mini",
            "messages": _MSGS,
            "stream": True,
            "stream_options": {"include_usage": True},
        },
        {},
        True,
    ),
    "chat_stream_no_usage.sse": (
        "/v1/chat/completions",
        {"model": "gpt-4o-mini", "messages": _MSGS, "stream": True},
        {},
        True,
    ),
    "chat_tools.json": (
        "/v1/chat/completions",
        {"model": "gpt-4o-mini", "messages": _MSGS, "tools": _CHAT_TOOLS},
        {},
        False,
    ),
    "chat_tools_stream.sse": (
        "/v1/chat/completions",
        {
            "model": "gpt-4o-mini",
            "messages": _MSGS,
            "tools": _CHAT_TOOLS,
            "stream": True,
            "stream_options": {"include_usage": True},
        },
        {},
        False,
    ),
    "chat_json_mode.json": (
        "/v1/chat/completions",
        {"model": "gpt-4o-mini", "messages": _MSGS, "response_format": {"type": "json_object"}},
        {},
        False,
    ),
    "chat_json_mode_stream.sse": (
        "/v1/chat/completions",
        {
            "model": "gpt-4o-mini",
            "messages": _MSGS,
            "response_format": {"type": "json_object"},
            "stream": True,
            "stream_options": {"include_usage": True},
        },
        {},
        False,
    ),
    "chat_json_invalid.json": (
        "/v1/chat/completions",
        {"model": "gpt-4o-mini", "messages": _MSGS, "response_format": {"type": "json_object"}},
        {"x-fake-invalid-json": "1"},
        False,
    ),
    "chat_length_stream.sse": (
        "/v1/chat/completions",
        {
            "model": "gpt-4o-mini",
            "messages": _MSGS,
            "max_tokens": 3,
            "stream": True,
            "stream_options": {"include_usage": True},
        },
        {},
        True,
    ),
    "chat_refuse.json": (
        "/v1/chat/completions",
        {"model": "gpt-4o-mini", "messages": _MSGS},
        {"x-fake-refuse": "1"},
        False,
    ),
    "responses.json": ("/v1/responses", {"model": "gpt-4o-mini", "input": "hi"}, {}, True),
    "responses_stream.sse": (
        "/v1/responses",
        {"model": "gpt-4o-mini", "input": "hi", "stream": True},
        {},
        True,
    ),
    "responses_tools_stream.sse": (
        "/v1/responses",
        {"model": "gpt-4o-mini", "input": "hi", "tools": _RESP_TOOLS, "stream": True},
        {},
        False,
    ),
    "responses_length.json": (
        "/v1/responses",
        {"model": "gpt-4o-mini", "input": "hi", "max_output_tokens": 3},
        {},
        True,
    ),
    "anthropic.json": (
        "/v1/messages",
        {"model": "claude-3-5-haiku", "max_tokens": 100, "messages": _MSGS},
        _ANTH,
        True,
    ),
    "anthropic_stream.sse": (
        "/v1/messages",
        {"model": "claude-3-5-haiku", "max_tokens": 100, "messages": _MSGS, "stream": True},
        _ANTH,
        True,
    ),
    "anthropic_tools.json": (
        "/v1/messages",
        {"model": "claude-3-5-haiku", "max_tokens": 100, "messages": _MSGS, "tools": _ANTH_TOOLS},
        _ANTH,
        False,
    ),
    "anthropic_tools_stream.sse": (
        "/v1/messages",
        {
            "model": "claude-3-5-haiku",
            "max_tokens": 100,
            "messages": _MSGS,
            "tools": _ANTH_TOOLS,
            "stream": True,
        },
        _ANTH,
        False,
    ),
    "anthropic_length_stream.sse": (
        "/v1/messages",
        {"model": "claude-3-5-haiku", "max_tokens": 3, "messages": _MSGS, "stream": True},
        _ANTH,
        True,
    ),
    "chat_refuse_schema_stream.sse": (
        "/v1/chat/completions",
        {
            "model": "gpt-4o-mini",
            "messages": _MSGS,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "weather", "schema": _WEATHER},
            },
            "stream": True,
        },
        {"x-fake-refuse": "1"},
        False,
    ),
    "responses_refuse.json": (
        "/v1/responses",
        {"model": "gpt-4o-mini", "input": "hi"},
        {"x-fake-refuse": "1"},
        False,
    ),
    "responses_refuse_stream.sse": (
        "/v1/responses",
        {"model": "gpt-4o-mini", "input": "hi", "stream": True},
        {"x-fake-refuse": "1"},
        False,
    ),
    "anthropic_refuse_stream.sse": (
        "/v1/messages",
        {"model": "claude-3-5-haiku", "max_tokens": 100, "messages": _MSGS, "stream": True},
        {**_ANTH, "x-fake-refuse": "1"},
        False,
    ),
}


def _post(url: str, body: dict, headers: dict) -> bytes:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json", "x-fake-output-tokens": "6", **headers},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read()


def _splice_non_ascii(raw: bytes) -> bytes:
    """Prefix the answer's first word, everywhere it starts a JSON string (deltas and the
    whole-text copies in done/completed events alike)."""
    text = raw.decode()
    for marker in ('"content":"', '"text":"', '"delta":"'):
        starts = [m.end() for m in re.finditer(re.escape(marker), text)]
        for start in starts:
            if not text[start].isalpha():
                continue
            end = start
            while text[end].isalpha():
                end += 1
            word = text[start:end]
            return text.replace(f'"{word}', f'"{NON_ASCII}{word}').encode()
    raise ValueError("no text to splice into")


def main() -> None:
    FIXTURES.mkdir(exist_ok=True)
    with serve_in_thread(build_app) as server:
        for name, (path, body, headers, splice) in CASES.items():
            raw = _post(server.url + path, body, headers)
            if splice:
                raw = _splice_non_ascii(raw)
            (FIXTURES / name).write_bytes(raw)
            print(f"{name}: {len(raw)} bytes")
    # a gzip-compressed body (Content-Encoding: gzip), fixed mtime so it is reproducible
    gz = gzip.compress((FIXTURES / "chat.json").read_bytes(), mtime=0)
    (FIXTURES / "chat.json.gz").write_bytes(gz)


if __name__ == "__main__":
    main()
