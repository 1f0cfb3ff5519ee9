"""`Expect: 100-continue`, seen from a raw socket: the proxy answers `100 Continue` once its
front-door checks pass, so the client sends its body without waiting for its own timeout; a
request those checks refuse gets its final answer without the body ever being sent."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import orjson
import pytest
from aiohttp import web

from tests.support.proxy import openai_config, serve_proxy
from tests.support.scripted_upstream import Scripts
from tests.support.servers import RunningServer, serve_in_thread

LIMIT = 1_000_000
# A guard against hanging forever on a proxy that never answers, not a measurement: every
# assertion is on the bytes that arrive.
NEVER = 20


@pytest.fixture(scope="module")
def scripts() -> Scripts:
    return Scripts()


@pytest.fixture(scope="module")
def proxy(scripts: Scripts) -> Iterator[RunningServer]:
    with (
        serve_in_thread(lambda: web.Server(scripts.handle)) as upstream,
        serve_proxy(
            openai_config(upstream.url, extra=f"limits: {{max_body_bytes: {LIMIT}}}")
        ) as srv,
    ):
        yield srv


def _head(path: str, length: int, version: bytes = b"1.1", expect: bool = True) -> bytes:
    lines = [
        b"POST %s HTTP/%s" % (path.encode(), version),
        b"Host: example.com",
        b"Content-Type: application/octet-stream",
        b"Content-Length: %d" % length,
        *([b"Expect: 100-continue"] if expect else []),
    ]
    return b"\r\n".join(lines) + b"\r\n\r\n"


async def _response(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """One response with a Content-Length: (status line and headers, body)."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), NEVER)
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return head, await asyncio.wait_for(reader.readexactly(length), NEVER)


async def test_100_continue_comes_before_the_body_is_sent(proxy: RunningServer) -> None:
    body = bytes(range(256)) * 2000  # 512 KB
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    try:
        writer.write(_head("/v1/echo/upload", len(body)))
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), NEVER)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(body)
        head, answer = await _response(reader)
    finally:
        writer.close()
    assert head.startswith(b"HTTP/1.1 200 ")
    seen = orjson.loads(answer)
    assert seen["body_len"] == len(body)
    assert "expect" not in {k.lower() for k in seen["headers"]}  # answered here, not relayed


@pytest.mark.parametrize(
    ("path", "length", "status", "code"),
    [
        ("/v1/echo/upload", LIMIT + 1, b"413", "request_too_large"),
        ("/v2/nowhere", 10, b"404", "route_not_found"),
    ],
)
async def test_refused_before_the_body_without_100_continue(
    proxy: RunningServer, path: str, length: int, status: bytes, code: str
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    try:
        writer.write(_head(path, length))  # and never the body
        head, answer = await _response(reader)
    finally:
        writer.close()
    assert head.startswith(b"HTTP/1.1 " + status + b" "), head  # no interim 100 before it
    assert b"\r\nConnection: close\r\n" in head  # the unsent body will not be waited for
    assert orjson.loads(answer)["error"]["code"] == code


@pytest.mark.parametrize(("version", "expect"), [(b"1.0", True), (b"1.1", False)])
async def test_no_100_continue_unless_http11_with_expect(
    proxy: RunningServer, version: bytes, expect: bool
) -> None:
    body = b'{"x": 1}'
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    try:
        writer.write(_head("/v1/echo/plain", len(body), version, expect) + body)
        head, answer = await _response(reader)
    finally:
        writer.close()
    assert head.startswith(b"HTTP/" + version + b" 200 "), head
    assert orjson.loads(answer)["body"] == '{"x": 1}'
