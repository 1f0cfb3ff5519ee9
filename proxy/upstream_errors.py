"""What aiohttp raised while talking to an upstream, as the project's errors (shared by the
forward stage and shadow calls)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import aiohttp

from proxy.upstream import Upstream
from rollout.errors import (
    InternalProxyError,
    ProxyError,
    UpstreamConnectError,
    UpstreamMalformed,
    UpstreamReset,
    UpstreamTimeout,
)

log = logging.getLogger("llm_rollout.forward")


def upstream_error(
    exc: Exception, upstream: Upstream, on_timeout: Callable[[], ProxyError]
) -> ProxyError:
    """Map what aiohttp raised onto the project's errors (the order matters: subclasses first)."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return UpstreamTimeout("connect", upstream.timeouts.connect)
    if isinstance(exc, TimeoutError):
        return on_timeout()
    if isinstance(exc, aiohttp.ClientConnectorError):  # refused, unreachable, DNS
        return UpstreamConnectError(f"cannot connect to upstream: {exc.os_error}")
    if isinstance(exc, aiohttp.ClientResponseError):  # unparsable status line or headers
        return UpstreamMalformed(f"malformed upstream response: {exc.message}")
    if isinstance(exc, (aiohttp.ClientError, ConnectionError)):
        return UpstreamReset(f"upstream connection failed: {type(exc).__name__}")
    log.error("unexpected error forwarding to %s", upstream.name, exc_info=exc)
    return InternalProxyError(f"internal proxy error: {type(exc).__name__}")
