"""Map an incoming path (and, where a route says so, the model) to a provider.

Only the path decides: the Host header and absolute-form targets never choose an upstream, so the
proxy can never be used as an open proxy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

from proxy.upstream import Upstream
from rollout.config import Route
from rollout.config.fallback import Fallback

# Where a failed call goes next, in order: a provider and the model to ask it for (None: the same).
Fallbacks = tuple[tuple[Upstream, str | None], ...]


def compile_fallbacks(fallbacks: list[Fallback], upstreams: Mapping[str, Upstream]) -> Fallbacks:
    return tuple((upstreams[f.provider], f.model) for f in fallbacks)


@dataclass(frozen=True, slots=True)
class CompiledRoute:
    prefix: str
    upstream: Upstream
    models: tuple[str, ...] | None
    fallbacks: Fallbacks = ()

    @property
    def strip(self) -> int:
        """How much of the incoming path to cut before appending it to the base URL."""
        return 0 if self.prefix == "/" else len(self.prefix)

    def accepts_model(self, model: str | None) -> bool:
        if self.models is None:
            return True
        return model is not None and any(fnmatchcase(model, p) for p in self.models)


class Router:
    def __init__(self, routes: list[Route], upstreams: dict[str, Upstream]) -> None:
        compiled = [
            CompiledRoute(
                r.prefix,
                upstreams[r.provider],
                tuple(r.models) if r.models else None,
                compile_fallbacks(r.fallbacks, upstreams),
            )
            for r in routes
        ]
        # Longest prefix first; among equal prefixes, model-filtered routes before catch-alls.
        self._routes = sorted(compiled, key=lambda r: (-len(r.prefix), r.models is None))

    def candidates(self, raw_path: str, path: str) -> list[CompiledRoute]:
        """Routes whose prefix covers the path on a segment boundary, most specific first.
        Matched on the raw (still percent-encoded) path, since that is what is forwarded."""
        if not is_safe_path(path):
            return []
        raw = raw_path.partition("?")[0]
        return [r for r in self._routes if _under(raw, r.prefix)]

    @staticmethod
    def choose(candidates: list[CompiledRoute], model: str | None) -> CompiledRoute | None:
        return next((r for r in candidates if r.accepts_model(model)), None)


def _under(path: str, prefix: str) -> bool:
    if prefix == "/":
        return True
    return path == prefix or (path.startswith(prefix) and path[len(prefix)] == "/")


def is_safe_path(path: str) -> bool:
    """Refuse dot segments: '/v1/../admin' must not reach paths outside the route's prefix with
    the route's credentials."""
    if "/." not in path:  # the common case, without splitting the path
        return path.startswith("/")
    return path.startswith("/") and not any(seg in (".", "..") for seg in path.split("/"))
