"""Server-sent events: encoding, and writing a paced stream with the fault knobs applied.

An API module produces an iterable of `(event_bytes, is_content)`; `run_stream` writes each event
with its own `await resp.write(...)`, sleeps `inter_chunk` before every content event but the
first (never when it is 0), aborts the TCP connection after `reset_after` events, or goes silent
after `stall_after` events. A client that goes away is counted as cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Iterable

import orjson
from aiohttp import web

from proxy.fake_provider.errors import request_id
from proxy.fake_provider.knobs import Knobs
from proxy.fake_provider.state import OUTCOME, STATS

Event = tuple[bytes, bool]

DONE = b"data: [DONE]\n\n"
SSE_CT = "text/event-stream; charset=utf-8"
_LINGER_RESET = struct.pack("ii", 1, 0)


def data_event(obj: object) -> bytes:
    """`data: {json}` — OpenAI chat/completions style, no event name."""
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def named_event(name: str, obj: object) -> bytes:
    """`event: name` + `data: {json}` — Anthropic and Responses style."""
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(obj) + b"\n\n"


class ClientGone(ConnectionError):
    """The client closed the connection while the handler was hanging."""


async def hang_forever(request: web.Request) -> None:
    """Never return while the client is connected. The handler is cancelled when the client goes
    away if the server runs with handler_cancellation; otherwise notice it here and raise."""
    while True:
        await asyncio.sleep(0.1)
        transport = request.transport
        if transport is None or transport.is_closing():
            raise ClientGone


def abort_connection(request: web.Request) -> None:
    """Drop the connection with a TCP RST (SO_LINGER 0), not a clean FIN."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError, AttributeError, ValueError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    transport.abort()


async def run_stream(
    request: web.Request, knobs: Knobs, events: Iterable[Event], *, anthropic: bool = False
) -> web.StreamResponse:
    stats = request.app[STATS]
    rid_header = "request-id" if anthropic else "x-request-id"
    resp = web.StreamResponse(
        headers={"Content-Type": SSE_CT, "Cache-Control": "no-cache", rid_header: request_id()}
    )
    gap = knobs.inter_chunk
    reset_after = knobs.reset_after
    stall_after = knobs.stall_after
    count = 0
    content_seen = False
    try:
        await resp.prepare(request)
        if reset_after == 0:
            stats.resets += 1
            request[OUTCOME] = "reset"
            abort_connection(request)
            return resp
        for data, is_content in events:
            if is_content:
                if content_seen and gap:
                    await asyncio.sleep(gap)
                content_seen = True
            await resp.write(data)
            count += 1
            if reset_after is not None and count >= reset_after:
                stats.resets += 1
                request[OUTCOME] = "reset"
                abort_connection(request)
                return resp
            if stall_after is not None and count >= stall_after:
                stats.hung += 1
                await hang_forever(request)
        await resp.write_eof()
    except ConnectionError:
        request[OUTCOME] = "cancelled"
    return resp
