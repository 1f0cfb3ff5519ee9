"""Send the exchange upstream and relay the answer to the client as the bytes arrive.

Timeouts: connect is enforced by the client session; first byte, idle (between chunks after the
first) and total by one deadline that is moved forward as bytes come in. Failures before the
client has seen a byte become errors in the provider's own JSON shape; after that, an SSE stream
gets an error event and anything else is cut off, so a client never mistakes a truncated answer
for a complete one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from time import perf_counter

import aiohttp
import orjson
from aiohttp import web
from yarl import URL

from proxy.error_response import api_kind_of, error_response, sse_error_event
from proxy.exchange import Exchange
from proxy.headers import request_headers, response_headers
from proxy.upstream import Upstream
from rollout.errors import (
    ProxyError,
    RequestTooLarge,
    UpstreamConnectError,
    UpstreamMalformed,
    UpstreamReset,
    UpstreamTimeout,
)

# Bodies up to this size with a known length are read whole and sent in one write.
_WHOLE_BODY_MAX = 256 * 1024


class Forward:
    name = "forward"

    def __init__(self, max_body_bytes: int) -> None:
        self.max_body_bytes = max_body_bytes

    async def __call__(self, ex: Exchange) -> None:
        upstream = ex.upstream
        assert upstream is not None, "parse settles the upstream"
        clock = _Clock(upstream, ex)
        try:
            async with asyncio.timeout(clock.first_deadline()) as deadline:
                clock.deadline = deadline
                await self._exchange(ex, upstream, clock)
        except ProxyError as exc:
            await _fail(ex, exc)
        except aiohttp.ConnectionTimeoutError:
            await _fail(ex, UpstreamTimeout("connect", upstream.timeouts.connect))
        except TimeoutError:
            await _fail(ex, clock.timeout_error())
        except aiohttp.ClientConnectorError as exc:  # refused, unreachable, DNS
            await _fail(ex, UpstreamConnectError(f"cannot connect to upstream: {exc.os_error}"))
        except aiohttp.ClientResponseError as exc:  # unparsable status line or headers
            await _fail(ex, UpstreamMalformed(f"malformed upstream response: {exc.message}"))
        except (aiohttp.ClientError, ConnectionError) as exc:
            await _fail(ex, UpstreamReset(f"upstream connection failed: {type(exc).__name__}"))
        finally:
            ex.finished_at = perf_counter()

    async def _exchange(self, ex: Exchange, upstream: Upstream, clock: _Clock) -> None:
        request = ex.request
        streamed = ex.body is None and request.body_exists
        async with upstream.session.request(
            request.method,
            URL(upstream.base_url + request.raw_path[ex.route.strip :], encoded=True),  # type: ignore[union-attr]
            headers=request_headers(request.headers, upstream.credential, streamed),
            data=self._body(ex, streamed),
            allow_redirects=False,
        ) as answer:
            ex.status = answer.status
            headers = response_headers(answer.headers)
            length = answer.content_length
            if length is not None and length <= _WHOLE_BODY_MAX:
                body = await answer.read()
                clock.got_bytes()
                for tap in ex.taps:
                    tap(body)
                ex.response = web.Response(status=answer.status, headers=headers, body=body)
            else:
                await self._stream(ex, answer, headers, clock)

    async def _stream(
        self,
        ex: Exchange,
        answer: aiohttp.ClientResponse,
        headers: object,
        clock: _Clock,
    ) -> None:
        out = web.StreamResponse(status=answer.status, headers=headers)  # type: ignore[arg-type]
        if answer.content_length is not None:
            out.content_length = answer.content_length
        ex.response = out
        await out.prepare(ex.request)
        content, taps = answer.content, ex.taps
        while chunk := await content.readany():
            clock.got_bytes()
            for tap in taps:
                tap(chunk)
            await out.write(chunk)
        await out.write_eof()

    def _body(self, ex: Exchange, streamed: bool) -> bytes | AsyncIterator[bytes] | None:
        if ex.payload_changed:
            return orjson.dumps(ex.payload)
        if streamed:
            return _limited(ex.request, self.max_body_bytes)
        return ex.body


class _Clock:
    """Tracks which timeout applies now and moves the single deadline accordingly."""

    def __init__(self, upstream: Upstream, ex: Exchange) -> None:
        self.timeouts = upstream.timeouts
        self.ex = ex
        self.loop = asyncio.get_running_loop()
        self.total_deadline = self.loop.time() + self.timeouts.total
        self.phase = "first_byte"
        self.deadline: asyncio.Timeout | None = None

    def first_deadline(self) -> float:
        return min(self.loop.time() + self.timeouts.first_byte, self.total_deadline)

    def got_bytes(self) -> None:
        if self.phase == "first_byte":
            self.phase = "idle"
            self.ex.first_byte_at = perf_counter()
        self.deadline.reschedule(  # type: ignore[union-attr]
            min(self.loop.time() + self.timeouts.idle, self.total_deadline)
        )

    def timeout_error(self) -> UpstreamTimeout:
        if self.loop.time() >= self.total_deadline - 0.001:
            return UpstreamTimeout("total", self.timeouts.total)
        return UpstreamTimeout(self.phase, getattr(self.timeouts, self.phase))


async def _limited(request: web.BaseRequest, limit: int) -> AsyncIterator[bytes]:
    """Stream a passthrough body upstream, refusing to send more than `limit` bytes."""
    sent = 0
    while chunk := await request.content.readany():
        sent += len(chunk)
        if sent > limit:
            raise RequestTooLarge(f"request body exceeds the limit of {limit} bytes")
        yield chunk


async def _fail(ex: Exchange, error: ProxyError) -> None:
    """Record the failure and answer it as well as the state of the response still allows."""
    ex.error = error
    api_kind = api_kind_of(ex)
    out = ex.response
    if out is None or not out.prepared:
        ex.response = error_response(api_kind, error)
        return
    if out.content_type == "text/event-stream":
        try:
            await out.write(sse_error_event(api_kind, error))
            await out.write_eof()
            return
        except ConnectionError:
            pass
    transport = ex.request.transport
    if transport is not None:
        transport.abort()  # no clean end of body: the client must see the answer is incomplete
