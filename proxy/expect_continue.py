"""`Expect: 100-continue`: the interim answer that lets a client send its body.

A client that sends this header (curl for bodies over 1 MiB; some HTTP libraries always) waits
for `100 Continue` before its body, or for its own timeout (curl: 1 s). aiohttp's low-level
server never sends it (web.Application's router does, through a route's expect handler), so the
proxy does, once its front-door checks (route, declared size) have passed; a request they refuse
gets its final answer without the body ever being sent, and `Connection: close`, since the body
that may still follow is not read.
"""

from __future__ import annotations

from aiohttp import hdrs, web
from aiohttp.http import HttpVersion11

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def expects_continue(request: web.BaseRequest) -> bool:
    """An HTTP/1.1 request that waits for `100 Continue` before sending its body."""
    expect = request.headers.get(hdrs.EXPECT)
    return (
        expect is not None and expect.lower() == "100-continue" and request.version == HttpVersion11
    )


async def send_continue(request: web.BaseRequest) -> None:
    """Written before the response's own status line (as web_urldispatcher does it)."""
    writer = request.writer
    await writer.write(_CONTINUE)
    writer.output_size = 0  # not part of the response body's size


def refuse_unread_body(request: web.BaseRequest, response: web.StreamResponse) -> None:
    """A refused request whose client still waits to send its body: the connection ends with
    this answer."""
    if expects_continue(request):
        response.force_close()
