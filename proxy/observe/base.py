"""What an observer learns from one response, and the machinery every API's observer shares:
gzip, buffering a non-streamed body, splitting a stream into events, timing the first token."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

import orjson

from proxy.observe.sse import SseSplitter
from rollout.quality.usage import Usage

TEXT_START_CHARS = 200  # enough for the phrase-based refusal detector
MAX_BODY_BYTES = 8 * 1024 * 1024  # a non-streamed body larger than this is not analysed
MAX_CAPTURE_CHARS = 1024 * 1024  # full content kept only when JSON must be checked


@dataclass(slots=True)
class Observation:
    status: int | None = None
    usage: Usage | None = None
    first_token_at: float | None = None  # perf_counter of the first content-bearing event
    finish_reason: str | None = None  # the provider's own word (stop, length, end_turn...)
    truncated: bool = False  # stopped by the token limit
    provider_refusal: bool = False  # the provider itself flagged a refusal
    text_start: str = ""
    output_chars: int = 0
    content: str | None = None  # the whole text, captured only when JSON is expected
    tool_calls: list[tuple[str, str]] = field(default_factory=list)  # (name, arguments JSON)
    unparsable: int = 0  # events or bodies that were not the JSON they should be
    error_event: bool = False  # the stream carried an error event


class Observer:
    """Base: subclasses implement `on_event(name, data)` for streams and `on_body(doc)` for
    whole JSON bodies. `feed` is the tap the forward stage calls with every chunk."""

    def __init__(self, streaming: bool, capture: bool) -> None:
        self.streaming = streaming
        self.capture = capture  # keep the whole content (JSON validity check needs it)
        self.obs = Observation()
        self.active = True
        self._events = SseSplitter() if streaming else None
        self._body: list[bytes] = []
        self._body_size = 0
        self._inflate: Any = None
        self._texts: list[str] = []
        self._text_len = 0

    def start(self, status: int, encoding: str | None) -> None:
        """Called once the response headers are in, before the first chunk."""
        self.obs.status = status
        if status >= 300:
            self.active = False  # an error body: the status says it all, nothing to analyse
        elif encoding in ("gzip", "deflate"):
            self._inflate = zlib.decompressobj(47 if encoding == "gzip" else 15)

    def feed(self, chunk: bytes) -> None:
        if not self.active:
            return
        if self._inflate is not None:
            chunk = self._inflate.decompress(chunk)
        if self._events is not None:
            for name, data in self._events.feed(chunk):
                self.on_event(name, data)
        elif self._body_size <= MAX_BODY_BYTES:
            self._body.append(chunk)
            self._body_size += len(chunk)

    def finish(self) -> Observation:
        if self.active and self._events is None and 0 < self._body_size <= MAX_BODY_BYTES:
            try:
                doc = orjson.loads(b"".join(self._body))
            except orjson.JSONDecodeError:
                self.obs.unparsable += 1
            else:
                if isinstance(doc, dict):
                    self.on_body(doc)
        if self.capture:
            self.obs.content = "".join(self._texts)
        return self.obs

    # -- helpers for subclasses
    def load(self, data: bytes) -> Any:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            self.obs.unparsable += 1
            return None

    def text(self, piece: str) -> None:
        """Output text arrived (a delta, or a whole message)."""
        obs = self.obs
        if not piece:
            return
        if obs.first_token_at is None:
            obs.first_token_at = perf_counter()
        if len(obs.text_start) < TEXT_START_CHARS:
            obs.text_start += piece[: TEXT_START_CHARS - len(obs.text_start)]
        obs.output_chars += len(piece)
        if self.capture and self._text_len < MAX_CAPTURE_CHARS:
            self._texts.append(piece)
            self._text_len += len(piece)

    def first_token(self) -> None:
        """Content that is not text (a tool call, a refusal) also marks the first token."""
        if self.obs.first_token_at is None:
            self.obs.first_token_at = perf_counter()

    def on_event(self, name: bytes, data: bytes) -> None:
        raise NotImplementedError

    def on_body(self, doc: dict[str, Any]) -> None:
        raise NotImplementedError
