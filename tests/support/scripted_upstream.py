"""An upstream that misbehaves on cue, for the proxy's failure tests: each path is one script."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import orjson
from aiohttp import web


class Scripts:
    """Handlers by path; `cancelled` is set when a client of the endless stream goes away."""

    def __init__(self) -> None:
        self.cancelled = threading.Event()
        self.requests: list[dict[str, object]] = []

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        name = request.path.removeprefix("/v1/")
        handler = getattr(self, "do_" + name.split("/")[0].replace("-", "_"))
        return await handler(request)

    async def do_echo(self, request: web.BaseRequest) -> web.StreamResponse:
        body = await request.content.read()  # no size limit, unlike request.read()
        record = {
            "method": request.method,
            "path_qs": request.raw_path,
            "host": request.host,
            "headers": {str(k): v for k, v in request.headers.items()},
            "body_sha256": hashlib.sha256(body).hexdigest(),
            "body_len": len(body),
            "body": body.decode("latin-1") if len(body) < 4096 else None,
        }
        self.requests.append(record)
        return web.Response(body=orjson.dumps(record), content_type="application/json")

    async def do_status(self, request: web.BaseRequest) -> web.StreamResponse:
        status = int(request.path.rsplit("/", 1)[1])
        body = {"error": {"message": f"scripted {status}", "type": "x", "code": None}}
        return web.json_response(body, status=status, headers={"x-upstream": "yes"})

    async def do_slow_headers(self, request: web.BaseRequest) -> web.StreamResponse:
        await asyncio.sleep(3)
        return web.json_response({})

    async def do_stall_stream(self, request: web.BaseRequest) -> web.StreamResponse:
        out = await _sse(request)
        await out.write(b'data: {"n":1}\n\n')
        await asyncio.sleep(3)
        return out

    async def do_drip(self, request: web.BaseRequest) -> web.StreamResponse:
        out = await _sse(request)
        for n in range(40):
            await out.write(b'data: {"n":%d}\n\n' % n)
            await asyncio.sleep(0.1)
        return out

    async def do_reset_sse(self, request: web.BaseRequest) -> web.StreamResponse:
        out = await _sse(request)
        await out.write(b'data: {"n":1}\n\n')
        await out.write(b'data: {"n":2}\n\n')
        await asyncio.sleep(0.05)
        request.transport.abort()  # type: ignore[union-attr]
        return out

    async def do_reset_body(self, request: web.BaseRequest) -> web.StreamResponse:
        out = web.StreamResponse(headers={"content-type": "application/octet-stream"})
        out.content_length = 1_000_000
        await out.prepare(request)
        await out.write(b"x" * 300_000)
        await asyncio.sleep(0.05)
        request.transport.abort()  # type: ignore[union-attr]
        return out

    async def do_endless(self, request: web.BaseRequest) -> web.StreamResponse:
        out = await _sse(request)
        try:
            while True:
                await out.write(b'data: {"tick":1}\n\n')
                await asyncio.sleep(0.02)
        except (asyncio.CancelledError, ConnectionError):
            self.cancelled.set()
            raise

    async def do_download(self, request: web.BaseRequest) -> web.StreamResponse:
        size = int(request.query["bytes"])
        out = web.StreamResponse(headers={"content-type": "application/octet-stream"})
        out.content_length = size
        await out.prepare(request)
        block = bytes(range(256)) * 256
        sent = 0
        while sent < size:
            piece = block[: size - sent]
            await out.write(piece)
            sent += len(piece)
        return out


async def _sse(request: web.BaseRequest) -> web.StreamResponse:
    out = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await out.prepare(request)
    return out


@contextmanager
def garbage_server() -> Iterator[int]:
    """A TCP server that answers anything with bytes that are not HTTP."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    port = sock.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(65536)
                conn.sendall(b"THIS IS NOT HTTP\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        stop.set()
        thread.join(2)
        sock.close()


@contextmanager
def unaccepting_port() -> Iterator[int]:
    """A port whose accept queue is full: connection attempts hang until the client gives up."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(0)
    port = sock.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        with suppress(BlockingIOError):  # the connection completes in the background
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    try:
        yield port
    finally:
        for filler in fillers:
            filler.close()
        sock.close()
