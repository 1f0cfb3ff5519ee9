"""The one exception hierarchy of llm-rollout.

Everything the project raises on purpose derives from `RolloutError`. Per-request failures on the
data plane are `ProxyError`s: they carry the HTTP status the client gets and a short `kind` that
metrics count them by. Library exceptions (aiohttp, redis, pydantic) are mapped onto these at the
boundary where they occur, with `raise ... from exc`.
"""

from __future__ import annotations

from dataclasses import dataclass


class RolloutError(Exception):
    """Base of every error llm-rollout raises on purpose."""


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with a config file: where, what was found, and what was expected."""

    file: str
    path: str
    message: str
    value: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}" if self.path else self.file
        found = f" (got {self.value})" if self.value is not None else ""
        return f"{where}: {self.message}{found}"


class ConfigError(RolloutError):
    """A config file that cannot be used; lists every problem found, not just the first."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class DatasetError(RolloutError):
    """An eval dataset that cannot be used; lists every problem found, not just the first.

    Each problem is a `ConfigProblem` whose path starts with the line: `line 3: expect.regex`.
    """

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class StartupError(RolloutError):
    """A server could not start: a port already in use, an address it may not bind. The command
    says it in one line and exits 1."""


class StoreError(RolloutError):
    """The store could not do what was asked (unreachable, timed out, refused, corrupt data).

    Raised with `from exc` so the library's own exception stays attached as `__cause__`.
    """

    def __init__(self, message: str, *, op: str = "") -> None:
        super().__init__(message)
        self.op = op


class ActionRefused(RolloutError):
    """A person's action that makes no sense in the rollout's current phase (resume when not
    paused, approve when nothing awaits, promote a finished rollout...); nothing was changed."""


class SimulationError(RolloutError):
    """`rollout simulate` was asked for something it cannot model (a metric, an option)."""


class ProxyError(RolloutError):
    """A failure of one proxied request, answered to the client in the provider's error shape."""

    status: int = 502
    kind: str = "proxy_error"
    error_type: str = "api_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RouteNotFound(ProxyError):
    status, kind, error_type = 404, "route_not_found", "not_found_error"


class RequestTooLarge(ProxyError):
    status, kind, error_type = 413, "request_too_large", "request_too_large"


class UpstreamConnectError(ProxyError):
    status, kind, error_type = 502, "connect_error", "api_error"


class UpstreamReset(ProxyError):
    status, kind, error_type = 502, "connection_reset", "api_error"


class UpstreamMalformed(ProxyError):
    """The upstream answered with something that is not valid HTTP."""

    status, kind, error_type = 502, "malformed_response", "api_error"


class UpstreamStatus(ProxyError):
    """The provider answered 429 or 5xx; only a fallback loop sees it (the client gets the
    provider's own answer when no fallback is left)."""

    error_type = "api_error"

    def __init__(self, status: int) -> None:
        super().__init__(f"upstream answered {status}")
        self.status = status
        self.kind = "upstream_429" if status == 429 else "upstream_5xx"


class UpstreamTimeout(ProxyError):
    """The upstream did not answer in time; `phase` is connect, first_byte, idle or total."""

    status, error_type = 504, "timeout_error"

    def __init__(self, phase: str, seconds: float) -> None:
        super().__init__(f"upstream {phase.replace('_', ' ')} timeout after {seconds:g}s")
        self.phase = phase
        self.kind = f"{phase}_timeout"


class InternalProxyError(ProxyError):
    """A bug in the proxy itself, answered cleanly rather than with a stack trace."""

    status, kind, error_type = 500, "internal_error", "api_error"


class Denied(ProxyError):
    """A feature flag refused the request; its message says why."""

    kind, error_type = "denied", "permission_error"

    def __init__(self, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.status = status
        if status != 403:
            self.error_type = "invalid_request_error"


class ClientCancelled(ProxyError):
    """The client went away before the response was complete; not the provider's fault."""

    status, kind, error_type = 499, "client_cancelled", "api_error"


class EvalError(RolloutError):
    """`rollout eval` could not evaluate (a rollout it does not know, an unreachable provider, a
    cost cap): "could not tell", never a pass or a fail. The command exits 3."""


class ReviewError(RolloutError):
    """A review queue or labels file that cannot be used; lists every problem found, each a
    `ConfigProblem` whose path starts with the line."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
