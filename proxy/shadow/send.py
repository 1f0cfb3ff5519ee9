"""Send a shadow exchange to its upstream and read the whole answer through its taps.

Like the forward stage, minus the client: nothing is relayed, so there is no first-byte or idle
timer, only the shadow's own deadline over the whole call. Credentials: the shadow's provider's
own configured key; the client's key only when the shadow goes to the very provider that served
the live request (it was sent there anyway), never to another one.
"""

from __future__ import annotations

import asyncio
from time import perf_counter

import orjson
from multidict import CIMultiDict
from yarl import URL

from proxy.exchange import Exchange
from proxy.headers import CREDENTIAL_HEADERS, request_headers
from proxy.upstream import Upstream
from proxy.upstream_errors import upstream_error
from rollout.errors import ProxyError, UpstreamTimeout

SHADOW_HEADER = "x-llm-rollout-shadow"  # "1" on every shadow request
PAIR_HEADER = "x-llm-rollout-pair"  # the pair id linking it to its live request


class ShadowSend:
    name = "shadow_send"

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout

    async def __call__(self, ex: Exchange, live_upstream: Upstream | None, pair_id: str) -> None:
        upstream = ex.upstream
        assert upstream is not None and ex.route is not None
        request = ex.request
        url = URL(upstream.base_url + request.raw_path[ex.route.strip :], encoded=True)
        headers = shadow_headers(ex, upstream, live_upstream, pair_id)
        ex.started = perf_counter()
        try:
            async with asyncio.timeout(self.timeout):
                await self._call(ex, upstream, url, headers)
        except TimeoutError:
            ex.error = UpstreamTimeout("total", self.timeout)
        except ProxyError as exc:
            ex.error = exc
        except Exception as exc:
            ex.error = upstream_error(exc, upstream, lambda: UpstreamTimeout("total", self.timeout))
        finally:
            ex.finished_at = perf_counter()

    async def _call(
        self, ex: Exchange, upstream: Upstream, url: URL, headers: CIMultiDict[str]
    ) -> None:
        body = orjson.dumps(ex.payload)
        async with upstream.session.request(
            ex.request.method, url, headers=headers, data=body, allow_redirects=False
        ) as answer:
            ex.status = answer.status
            encoding = answer.headers.get("Content-Encoding")
            for tap in ex.taps:
                tap.start(answer.status, encoding)
            while chunk := await answer.content.readany():
                if ex.first_byte_at is None:
                    ex.first_byte_at = perf_counter()
                for tap in ex.taps:
                    tap.feed(chunk)


def shadow_headers(
    ex: Exchange, upstream: Upstream, live_upstream: Upstream | None, pair_id: str
) -> CIMultiDict[str]:
    headers = request_headers(ex.request.headers, upstream.credential, keep_content_length=False)
    if upstream.credential is None and upstream is not live_upstream:
        for name in CREDENTIAL_HEADERS:  # the client's key is for the live provider only
            headers.popall(name, None)
    headers[SHADOW_HEADER] = "1"
    headers[PAIR_HEADER] = pair_id
    return headers
