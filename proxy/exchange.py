"""One proxied request and everything learnt about it on its way through the stages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from time import perf_counter
from typing import TYPE_CHECKING, Any

from aiohttp import web

from rollout.errors import ProxyError

if TYPE_CHECKING:
    from proxy.routing import CompiledRoute
    from proxy.upstream import Upstream


@dataclass(slots=True, eq=False)
class Exchange:
    """Passed through every stage. A stage that answers the client itself (a deny, an error)
    sets `response`; the stages before forward stop there."""

    request: web.BaseRequest
    candidates: list[CompiledRoute]  # routes whose prefix matches; parse settles on one
    started: float = field(default_factory=perf_counter)

    # parse: the request as the LLM API sees it
    body: bytes | None = None  # None: the body is streamed through unread
    api: str | None = None  # e.g. "openai.chat", "anthropic.messages"; None: passthrough
    payload: dict[str, Any] | None = None  # the parsed JSON body
    payload_changed: bool = False  # a stage edited `payload`: re-serialise before forwarding
    model: str | None = None
    stream: bool = False

    route: CompiledRoute | None = None

    # identify / assign / rewrite
    subject: str | None = None
    arm: str = "baseline"
    upstream: Upstream | None = None

    # forward / observe
    response: web.StreamResponse | None = None
    status: int | None = None
    first_byte_at: float | None = None
    finished_at: float | None = None
    taps: list[Callable[[bytes], None]] = field(default_factory=list)

    # failures: the one that decided the outcome, and stage errors that were survived
    error: ProxyError | None = None
    stage_errors: list[str] = field(default_factory=list)
    notes: set[str] = field(default_factory=set)  # e.g. "malformed_json", counted by record

    @property
    def duration(self) -> float | None:
        return None if self.finished_at is None else self.finished_at - self.started

    @property
    def ttfb(self) -> float | None:
        return None if self.first_byte_at is None else self.first_byte_at - self.started
