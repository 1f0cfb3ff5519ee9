"""Which headers cross the proxy, in each direction."""

from __future__ import annotations

from multidict import CIMultiDict, CIMultiDictProxy

# RFC 9110 section 7.6.1 connection-specific fields, plus the ones aiohttp computes itself.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "expect",  # 100-continue is answered by the proxy's own server, not relayed
    }
)
CREDENTIAL_HEADERS = frozenset({"authorization", "x-api-key", "api-key"})


def request_headers(
    incoming: CIMultiDictProxy[str],
    credential: tuple[str, str] | None,
    keep_content_length: bool,
) -> CIMultiDict[str]:
    """Headers for the upstream request: end-to-end ones only, the configured credential (if
    any) replacing whatever the client sent."""
    dropped = _dropped(incoming, HOP_BY_HOP)
    if credential is not None:
        dropped = dropped | CREDENTIAL_HEADERS
    if keep_content_length:
        dropped = dropped - {"content-length"}
    out: CIMultiDict[str] = CIMultiDict()
    for name, value in incoming.items():
        if name.lower() not in dropped:
            out.add(name, value)
    if credential is not None:
        out[credential[0]] = credential[1]
    return out


def response_headers(incoming: CIMultiDictProxy[str]) -> CIMultiDict[str]:
    """Headers for the client: everything end-to-end the upstream said, untouched."""
    dropped = _dropped(incoming, HOP_BY_HOP)
    return CIMultiDict((k, v) for k, v in incoming.items() if k.lower() not in dropped)


def _dropped(headers: CIMultiDictProxy[str], base: frozenset[str]) -> frozenset[str]:
    """Hop-by-hop names, plus any that the Connection header declares hop-by-hop."""
    if "connection" not in headers:
        return base  # the usual case: no copy
    dropped = set(base)
    for value in headers.getall("connection", ()):
        dropped.update(token.strip().lower() for token in value.split(","))
    return frozenset(dropped)
