"""An upstream that resets mid-stream: the client gets the proxy's error event (the SDKs raise on
it), and then a cut connection, never a cleanly ended response: no terminating zero-length
chunk, so nothing that only reads HTTP framing takes the cut answer for a complete one."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import openai
import orjson
import pytest
from aiohttp import web

from tests.support.proxy import openai_config, serve_proxy
from tests.support.scripted_upstream import Scripts
from tests.support.servers import RunningServer, serve_in_thread

NEVER = 20  # a guard against a hang, not a measurement


@pytest.fixture(scope="module")
def proxy() -> Iterator[RunningServer]:
    scripts = Scripts()
    with (
        serve_in_thread(lambda: web.Server(scripts.handle)) as upstream,
        serve_proxy(openai_config(upstream.url)) as server,
    ):
        yield server


def _dechunk(body: bytes) -> tuple[list[bytes], bytes]:
    """The chunks of a chunked body, and what is left after the last complete one."""
    chunks = []
    while (end := body.find(b"\r\n")) >= 0:
        size = int(body[:end].split(b";")[0], 16)
        if len(body) < end + 2 + size + 2:
            break
        chunks.append(body[end + 2 : end + 2 + size])
        body = body[end + 2 + size + 2 :]
    return chunks, body


async def test_raw_client_sees_the_error_event_then_a_cut_connection(
    proxy: RunningServer,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(
        b"POST /v1/reset-sse HTTP/1.1\r\nHost: example.com\r\n"
        b"Content-Type: application/json\r\nContent-Length: 16\r\n\r\n"
        b'{"stream": true}'
    )
    raw = b""
    try:  # to the end of the connection, or of a (wrongly) complete chunked body
        while not raw.endswith(b"\r\n0\r\n\r\n"):
            more = await asyncio.wait_for(reader.read(65536), NEVER)
            if not more:
                break
            raw += more
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert b"\r\nTransfer-Encoding: chunked" in head
    chunks, rest = _dechunk(body)
    assert b"" not in chunks, "a terminating zero-length chunk: the response looks complete"
    assert rest == b""
    events = [e for e in b"".join(chunks).split(b"\n\n") if e]
    assert events[:2] == [b'data: {"n":1}', b'data: {"n":2}']
    error = orjson.loads(events[-1].removeprefix(b"data: "))["error"]
    assert error["code"] == "connection_reset"


def test_openai_sdk_raises_on_a_stream_reset_mid_way(fake: RunningServer) -> None:
    with serve_proxy(openai_config(fake.url)) as server:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="sk", max_retries=0)
        stream = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            extra_headers={"x-fake-reset-after-chunks": "3"},
        )
        seen = []
        with pytest.raises(openai.APIError, match=r"^upstream connection"):  # the error event
            for chunk in stream:
                seen.append(chunk)
    assert len(seen) == 3  # the chunks before the reset, then the error
