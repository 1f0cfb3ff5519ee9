"""One proxied request and everything learnt about it on its way through the stages."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from time import perf_counter
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

from rollout.errors import ProxyError

if TYPE_CHECKING:
    from proxy.cohorts.compiled import CompiledRollout
    from proxy.observe.base import Observation, Observer
    from proxy.observe.expect import JsonExpectation
    from proxy.routing import CompiledRoute, Fallbacks
    from proxy.scoring.rollout_scoring import RolloutScoring
    from proxy.upstream import Upstream
    from rollout.config.flags import Effect


class ResponseTap(Protocol):
    """Reads the response as it is relayed; must never raise or block."""

    def start(self, status: int, encoding: str | None) -> None: ...

    def feed(self, chunk: bytes) -> None: ...


class ChunkFilter(Protocol):
    """Rewrites relayed SSE bytes; may hold back an incomplete event until it completes."""

    def __call__(self, chunk: bytes) -> bytes: ...

    def flush(self) -> bytes: ...


@dataclass(frozen=True, slots=True)
class ShadowTicket:
    """A live request chosen for mirroring: its pair id (sent upstream and logged) and whether
    it also gets a second baseline call for the noise estimate."""

    pair_id: str
    noise: bool


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

    # identify / flags / assign / rewrite
    subject: str | None = None
    governing: CompiledRollout | None = None  # the rollout this request falls under, if any
    rollout: str = ""  # its name, as metrics label it; "" when none
    forced_arm: str | None = None  # set by a flag; assign obeys it
    flags: list[str] = field(default_factory=list)  # names of the flags that matched
    flag_edits: list[Effect] = field(default_factory=list)  # their edits, applied after rewrite
    arm: str = "baseline"
    assigned_by: str = ""  # why this arm: hash, sticky, override, flag, killed, random, ...
    role: str = "live"  # "shadow" for a mirrored copy
    shadow: ShadowTicket | None = None  # set when this live request is to be mirrored
    scoring: RolloutScoring | None = None  # set when this live answer is to be scored online
    upstream: Upstream | None = None
    fallbacks: Fallbacks = ()  # tried in order when the upstream fails before the first byte
    fallback_from: str | None = None  # the provider that failed, when a fallback answered

    # forward / observe
    response: web.StreamResponse | None = None
    status: int | None = None
    first_byte_at: float | None = None
    finished_at: float | None = None
    taps: list[ResponseTap] = field(default_factory=list)  # read every chunk as it passes
    chunk_filter: ChunkFilter | None = None  # rewrites the SSE events the client gets
    upstream_started: float | None = None  # perf_counter when the upstream call began
    upstream_done: float | None = None  # ... and when its last byte arrived

    # observe / conclude
    observer: Observer | None = None
    expect: JsonExpectation | None = None
    observation: Observation | None = None
    refusal: str | None = None  # "provider" (the provider said so) or "phrase" (detector)
    json_result: str | None = None  # valid, invalid_json, schema_mismatch, truncated
    cost_usd: float | None = None  # None: unpriced model or no usage reported

    # failures: the one that decided the outcome, and stage errors that were survived
    error: ProxyError | None = None
    stage_errors: list[str] = field(default_factory=list)
    notes: set[str] = field(default_factory=set)  # e.g. "malformed_json", counted by record

    @property
    def headers(self) -> Mapping[str, str]:
        return self.request.headers

    @property
    def route_prefix(self) -> str:
        return "" if self.route is None else self.route.prefix

    @property
    def duration(self) -> float | None:
        return None if self.finished_at is None else self.finished_at - self.started

    @property
    def proxy_overhead(self) -> float | None:
        """Time spent in the proxy itself: before the upstream call started, and after its last
        byte until the client's last byte (relaying in between is not counted)."""
        if None in (self.finished_at, self.upstream_started, self.upstream_done):
            return None
        return (self.upstream_started - self.started) + (self.finished_at - self.upstream_done)  # type: ignore[operator]

    @property
    def ttfb(self) -> float | None:
        return None if self.first_byte_at is None else self.first_byte_at - self.started
