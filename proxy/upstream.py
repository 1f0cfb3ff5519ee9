"""One configured provider at run time: its HTTP client session, credential and timeouts."""

from __future__ import annotations

import os
from collections.abc import Mapping

import aiohttp

from proxy.breaker import Breaker
from rollout.config import Provider, Timeouts


class Upstream:
    """Created per provider at startup; one connection pool each, reused by every request."""

    def __init__(
        self, name: str, provider: Provider, environ: Mapping[str, str] = os.environ
    ) -> None:
        self.name = name
        self.kind = provider.kind
        self.base_url = provider.base_url
        self.timeouts: Timeouts = provider.timeouts
        self.credential = _credential(provider, environ)
        self._max_connections = provider.max_connections
        self._session: aiohttp.ClientSession | None = None
        self.breaker = Breaker()  # skipped for a while after failing calls in a row (fallbacks)

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError(f"upstream {self.name!r} used before start()")
        return self._session

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=self._max_connections, ttl_dns_cache=300, enable_cleanup_closed=True
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            # Bytes pass through untouched (gzip stays gzip); the client decodes what it asked for.
            auto_decompress=False,
            # Connect is bounded here; first byte, idle and total by the forward stage.
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.timeouts.connect),
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def __repr__(self) -> str:  # never show the credential
        return f"Upstream({self.name!r}, {self.base_url!r})"


def _credential(provider: Provider, environ: Mapping[str, str]) -> tuple[str, str] | None:
    """The header the provider reads its key from, or None to pass the client's through."""
    if provider.api_key_env is None:
        return None
    key = environ.get(provider.api_key_env, "")
    if provider.kind == "anthropic":
        return ("x-api-key", key)
    return ("Authorization", f"Bearer {key}")
