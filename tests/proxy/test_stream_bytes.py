"""A raw client gets through the proxy exactly the bytes it gets from the provider directly, on
the OpenAI streams whose usage the proxy asks for on the client's behalf (include_usage makes the
provider add a usage chunk and `"usage":null` to every other chunk; none of it may show)."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Iterator
from typing import Any
from unittest import mock

import aiohttp
import orjson
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.fake_provider.openai_chat import chat_events
from proxy.fake_provider.plan import Plan
from tests.support.proxy import openai_config, serve_proxy
from tests.support.servers import RunningServer, serve_in_thread

MESSAGES = [{"role": "user", "content": "Say something about releases."}]
TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
SCHEMA = {"type": "json_schema", "json_schema": {"name": "s", "schema": {"type": "object"}}}
CHAT = {"model": "gpt-4o-mini", "messages": MESSAGES, "stream": True}
# name -> (path, body, headers)
CASES: dict[str, tuple[str, dict[str, Any], dict[str, str]]] = {
    "text": ("/v1/chat/completions", CHAT, {}),
    "text_empty_options": ("/v1/chat/completions", {**CHAT, "stream_options": {}}, {}),
    "text_usage_false": (
        "/v1/chat/completions",
        {**CHAT, "stream_options": {"include_usage": False}},
        {},
    ),
    "text_own_usage": (
        "/v1/chat/completions",
        {**CHAT, "stream_options": {"include_usage": True}},
        {},
    ),
    "tools": ("/v1/chat/completions", {**CHAT, "tools": TOOLS}, {}),
    "tools_own_usage": (
        "/v1/chat/completions",
        {**CHAT, "tools": TOOLS, "stream_options": {"include_usage": True}},
        {},
    ),
    "refusal_schema": (
        "/v1/chat/completions",
        {**CHAT, "response_format": SCHEMA},
        {"x-fake-refuse": "1"},
    ),
    "length": ("/v1/chat/completions", {**CHAT, "max_tokens": 3}, {}),
    "completions": ("/v1/completions", {"model": "m", "prompt": "hi", "stream": True}, {}),
}
# What differs between two calls by nature: ids and the clock. Same length, so the rest of the
# bytes are compared where they stand.
VOLATILE = re.compile(rb'"(chatcmpl-|cmpl-|call_)[0-9a-f]{24}"|"created":[0-9]+')


def _scrub(body: bytes) -> bytes:
    return VOLATILE.sub(lambda m: b"#" * len(m.group(0)), body)


async def _body(url: str, body: dict[str, Any], headers: dict[str, str]) -> bytes:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            url, data=orjson.dumps(body), headers={"content-type": "application/json", **headers}
        ) as resp,
    ):
        assert resp.status == 200
        return await resp.read()


@pytest.fixture(scope="module")
def proxy(fake: RunningServer) -> Iterator[RunningServer]:
    with serve_proxy(openai_config(fake.url)) as server:
        yield server


@pytest.mark.parametrize("name", sorted(CASES))
async def test_fake_provider_streams_are_byte_identical_through_the_proxy(
    name: str, fake: RunningServer, proxy: RunningServer
) -> None:
    path, body, headers = CASES[name]
    direct = await _body(fake.url + path, body, headers)
    proxied = await _body(proxy.url + path, body, headers)
    assert direct.endswith(b"data: [DONE]\n\n")
    assert _scrub(proxied) == _scrub(direct)


# ---- chunk boundaries anywhere: an upstream that writes the same stream cut as told ----------


def _stream(include_usage: bool) -> bytes:
    plan = Plan("text", ["Hi", " café", " 東京", " —", " ok"], "stop", 5, 0, 0)
    with mock.patch("os.urandom", lambda n: b"\x01" * n):
        events = chat_events(plan, "chatcmpl-x", 1_700_000_000, "m", include_usage, False)
        return b"".join(data for data, _ in events)


class CutUpstream:
    """Answers with the stream as OpenAI would for the request's stream_options, written in the
    pieces `cuts` says, each in its own write."""

    def __init__(self) -> None:
        self.cuts: list[int] = []

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        options = orjson.loads(await request.read()).get("stream_options") or {}
        raw = _stream(options.get("include_usage") is True)
        out = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await out.prepare(request)
        points = [0, *sorted({c % (len(raw) + 1) for c in self.cuts}), len(raw)]
        for a, b in itertools.pairwise(points):
            await out.write(raw[a:b])
            await asyncio.sleep(0)
        await out.write_eof()
        return out


@pytest.fixture(scope="module")
def cut_upstream() -> Iterator[tuple[CutUpstream, RunningServer]]:
    script = CutUpstream()
    with serve_in_thread(lambda: web.Server(script.handle)) as server:
        yield script, server


@pytest.fixture(scope="module")
def cut_proxy(cut_upstream: tuple[CutUpstream, RunningServer]) -> Iterator[RunningServer]:
    with serve_proxy(openai_config(cut_upstream[1].url)) as server:
        yield server


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cuts=st.lists(st.integers(min_value=0, max_value=5_000), max_size=30))
def test_any_chunk_boundaries_are_byte_identical_through_the_proxy(
    cuts: list[int],
    cut_upstream: tuple[CutUpstream, RunningServer],
    cut_proxy: RunningServer,
) -> None:
    script, upstream = cut_upstream
    script.cuts = cuts
    body = {"model": "m", "messages": MESSAGES, "stream": True}
    direct = asyncio.run(_body(upstream.url + "/v1/chat/completions", body, {}))
    proxied = asyncio.run(_body(cut_proxy.url + "/v1/chat/completions", body, {}))
    assert direct == _stream(False)
    assert proxied == direct
