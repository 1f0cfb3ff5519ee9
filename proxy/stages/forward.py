"""Send the exchange upstream and relay the answer to the client as the bytes arrive.

Timeouts: connect is enforced by the client session; first byte, idle (between chunks after the
first) and total by one deadline that is moved forward as bytes come in. Failures before the
client has seen a byte become errors in the provider's own JSON shape. After that, the answer is
cut off, so a client never mistakes a truncated answer for a complete one: an SSE stream first
gets an error event (the SDKs raise on it), then, like any other body, its connection is closed
without the body's end (no terminating chunk), as it would be by the provider.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
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
from proxy.upstream_clock import UpstreamClock
from proxy.upstream_errors import upstream_error
from rollout.errors import ProxyError, RequestTooLarge, UpstreamStatus

log = logging.getLogger("llm_rollout.forward")

# Bodies up to this size with a known length are read whole and sent in one write.
_WHOLE_BODY_MAX = 256 * 1024


class Forward:
    name = "forward"

    def __init__(self, max_body_bytes: int) -> None:
        self.max_body_bytes = max_body_bytes

    async def __call__(self, ex: Exchange) -> None:
        upstream = ex.upstream
        assert upstream is not None, "parse settles the upstream"
        if not ex.fallbacks:  # the usual case: one provider, no breaker to consult
            await self._attempt(ex, upstream, rescuable=False)
            return
        await self._with_fallbacks(ex, upstream)

    async def _with_fallbacks(self, ex: Exchange, primary: Upstream) -> None:
        """The provider, then each fallback in order, while a call fails before the client saw
        a byte; a provider whose breaker is open is skipped (but the last one is always tried)."""
        targets = [(primary, None), *ex.fallbacks]
        for i, (upstream, model) in enumerate(targets):
            last = i == len(targets) - 1
            if i > 0:
                _switch(ex, upstream, model)
            if not last and not upstream.breaker.allows():
                ex.fallback_from = ex.fallback_from or upstream.name
                continue
            failure = await self._attempt(ex, upstream, rescuable=not last)
            if failure is None:
                if ex.error is None and (ex.status or 0) < 500:
                    upstream.breaker.succeeded()
                return
            upstream.breaker.failed()
            ex.fallback_from = ex.fallback_from or upstream.name
            log.info("fallback: %s failed (%s), trying the next", upstream.name, failure.kind)

    async def _attempt(
        self, ex: Exchange, upstream: Upstream, rescuable: bool
    ) -> ProxyError | None:
        """One call. Returns the failure when `rescuable` and the call failed before the client
        saw a byte in a way another provider may not (connect, first byte, 429, 5xx); otherwise
        the outcome is on the exchange (the answer relayed, or the error answered)."""
        clock = UpstreamClock(upstream.timeouts, ex)
        body = self._body(ex)
        try:
            await self._exchange(ex, upstream, body, clock, rescuable)
        except _Rescuable as rescue:
            return rescue.error
        except asyncio.CancelledError:
            if not clock.expired:
                raise  # the client went away: the pipeline records it
            clock.task.uncancel()  # type: ignore[union-attr]  # our own timeout, handled here
            return await _fail_or_rescue(ex, clock.timeout_error(), rescuable)
        except ProxyError as exc:
            return await _fail_or_rescue(ex, exc, rescuable)
        except Exception as exc:
            if isinstance(body, _LimitedBody) and body.exceeded is not None:
                await _fail(ex, body.exceeded)  # aiohttp wraps what the body iterator raised
                return None
            error = upstream_error(exc, upstream, clock.timeout_error)
            return await _fail_or_rescue(ex, error, rescuable)
        finally:
            clock.stop()
            ex.finished_at = perf_counter()
        return None

    async def _exchange(
        self,
        ex: Exchange,
        upstream: Upstream,
        body: object,
        clock: UpstreamClock,
        rescuable: bool = False,
    ) -> None:
        request = ex.request
        ex.upstream_started = perf_counter()
        async with upstream.session.request(
            request.method,
            URL(upstream.base_url + request.raw_path[ex.route.strip :], encoded=True),  # type: ignore[union-attr]
            headers=request_headers(
                request.headers, upstream.credential, isinstance(body, _LimitedBody)
            ),
            data=body,
            allow_redirects=False,
        ) as answer:
            if rescuable and (answer.status == 429 or answer.status >= 500):
                raise _Rescuable(UpstreamStatus(answer.status))  # nothing relayed: try the next
            ex.status = answer.status
            headers = response_headers(answer.headers)
            if ex.fallback_from is not None:
                headers[ANSWERED_BY] = upstream.name  # say that a fallback answered
            encoding = answer.headers.get("Content-Encoding")
            for tap in ex.taps:
                tap.start(answer.status, encoding)
            length = answer.content_length
            if length is not None and length <= _WHOLE_BODY_MAX:
                body = await answer.read()
                ex.upstream_done = clock.got_bytes()
                for tap in ex.taps:
                    tap.feed(body)
                ex.response = web.Response(status=answer.status, headers=headers, body=body)
            else:
                await self._stream(ex, answer, headers, clock)

    async def _stream(
        self,
        ex: Exchange,
        answer: aiohttp.ClientResponse,
        headers: object,
        clock: UpstreamClock,
    ) -> None:
        out = web.StreamResponse(status=answer.status, headers=headers)  # type: ignore[arg-type]
        # A filter rewrites SSE events only; any other body passes byte for byte.
        relay = ex.chunk_filter if answer.content_type == "text/event-stream" else None
        if answer.content_length is not None and relay is None:
            out.content_length = answer.content_length
        ex.response = out
        await out.prepare(ex.request)
        content, taps = answer.content, ex.taps
        while chunk := await content.readany():
            ex.upstream_done = clock.got_bytes()
            for tap in taps:
                tap.feed(chunk)
            if relay is not None:
                chunk = relay(chunk)
                if not chunk:
                    continue
            await out.write(chunk)
        if relay is not None and (tail := relay.flush()):
            await out.write(tail)
        await out.write_eof()

    def _body(self, ex: Exchange) -> bytes | _LimitedBody | None:
        if ex.payload_changed:
            return orjson.dumps(ex.payload)
        if ex.body is None and ex.request.body_exists:
            return _LimitedBody(ex.request, self.max_body_bytes)
        return ex.body


class _LimitedBody:
    """A passthrough body streamed upstream as it arrives, refusing more than `limit` bytes."""

    def __init__(self, request: web.BaseRequest, limit: int) -> None:
        self.request, self.limit = request, limit
        self.exceeded: RequestTooLarge | None = None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        sent = 0
        while chunk := await self.request.content.readany():
            sent += len(chunk)
            if sent > self.limit:
                self.exceeded = RequestTooLarge(
                    f"request body exceeds the limit of {self.limit} bytes"
                )
                raise self.exceeded
            yield chunk


async def _fail(ex: Exchange, error: ProxyError) -> None:
    """Record the failure and answer it as well as the state of the response still allows."""
    ex.error = error
    api_kind = api_kind_of(ex)
    out = ex.response
    if out is None or not out.prepared:
        ex.response = error_response(api_kind, error)
        return
    transport = ex.request.transport
    if out.content_type == "text/event-stream":
        # The error event first (SDKs raise on it), then the connection is closed without the
        # body's end (no last chunk), as a client talking to the provider would see it: nothing
        # that only reads HTTP framing may take the cut answer for a complete one. close(), not
        # abort(): abort would drop the event if it still sits in the write buffer.
        with contextlib.suppress(ConnectionError):
            await out.write(sse_error_event(api_kind, error))
            if transport is not None:
                transport.close()
            return
    if transport is not None:
        transport.abort()  # no clean end of body: the client must see the answer is incomplete


ANSWERED_BY = "x-llm-rollout-provider"  # on answers a fallback gave, naming its provider
_RESCUABLE_KINDS = frozenset({"connect_error", "connect_timeout", "first_byte_timeout"})


class _Rescuable(Exception):
    def __init__(self, error: ProxyError) -> None:
        super().__init__(error.message)
        self.error = error


async def _fail_or_rescue(ex: Exchange, error: ProxyError, rescuable: bool) -> ProxyError | None:
    """A failure before the client saw a byte, of a kind another provider may not have, goes
    back to the fallback loop; anything else is answered as ever."""
    untouched = ex.response is None or not ex.response.prepared
    if rescuable and untouched and error.kind in _RESCUABLE_KINDS:
        ex.response = None
        return error
    await _fail(ex, error)
    return None


def _switch(ex: Exchange, upstream: Upstream, model: str | None) -> None:
    """Point the exchange at a fallback: its provider, and the model to ask for there."""
    ex.upstream, ex.status = upstream, None
    if model is not None and ex.payload is not None:
        ex.payload["model"] = model
        ex.model, ex.payload_changed = model, True
