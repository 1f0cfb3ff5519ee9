"""What the fake provider keeps per app: received requests, counters, current behaviours."""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field, fields
from typing import Any

from aiohttp import web

from proxy.fake_provider.knobs import Behaviours


@dataclass(slots=True)
class ReceivedRequest:
    """One request as the provider received it. Header names are lower-cased."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    json: Any
    at: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": self.body.decode("utf-8", "replace"),
            "json": self.json,
            "at": self.at,
        }


@dataclass(slots=True)
class FakeStats:
    """Request counters. Readable as attributes or as `stats["cancelled"]`.

    started:   requests that reached a handler (the `/_fake/*` endpoints are not counted)
    completed: handled to the end (including injected errors)
    cancelled: the client went away before the answer was complete (handler cancelled, or a
               write to the closed connection failed)
    errors:    injected error responses (error_rate, x-fake-error-status)
    resets:    streams deliberately aborted by reset_after_chunks
    hung:      requests that entered a hang (never answered, or stalled mid-stream)
    """

    started: int = 0
    completed: int = 0
    cancelled: int = 0
    errors: int = 0
    resets: int = 0
    hung: int = 0

    def __getitem__(self, name: str) -> int:
        return getattr(self, name)

    @property
    def in_flight(self) -> int:
        return self.started - self.completed - self.cancelled - self.resets

    def as_dict(self) -> dict[str, int]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["in_flight"] = self.in_flight
        return out

    def reset(self) -> None:
        for f in fields(self):
            setattr(self, f.name, 0)


RECEIVED: web.AppKey[collections.deque[ReceivedRequest]] = web.AppKey(
    "fake_received", collections.deque
)
STATS: web.AppKey[FakeStats] = web.AppKey("fake_stats", FakeStats)
BEHAVIOURS: web.AppKey[Behaviours] = web.AppKey("fake_behaviours", Behaviours)

# Per-request keys (request[...]): the parsed JSON body, its bytes, and how a stream ended.
BODY_JSON: web.RequestKey[Any] = web.RequestKey("fake_json", object)
BODY_BYTES: web.RequestKey[bytes] = web.RequestKey("fake_body", bytes)
OUTCOME: web.RequestKey[str] = web.RequestKey("fake_outcome", str)
