"""Deliver one event to one receiver: POST the JSON, retry with exponential backoff (honouring
`retry-after`) until it is accepted or `give_up_after` has passed, then drop it and count it.

Each body is signed when the receiver has a secret: `x-llm-rollout-signature: t=<unix>,v1=<hex>`
where hex = HMAC-SHA256(secret, f"{t}.{body}") — the timestamp guards against a replayed body.
`x-llm-rollout-event-id` is the audit entry's id: a receiver that sees an id twice (a retry whose
first answer was lost) drops the second.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections.abc import Mapping
from typing import Any

import aiohttp
import orjson
from prometheus_client import Counter

from rollout.config.notify import Receiver

log = logging.getLogger("llm_rollout.notify")

SENT = Counter(
    "llm_rollout_notifications_total",
    "Notifications by receiver, event and result (sent, retried, dropped).",
    ["receiver", "event", "result"],
)
FIRST_BACKOFF = 1.0  # seconds; doubled after each failed attempt, at most MAX_BACKOFF
MAX_BACKOFF = 60.0


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


async def deliver(
    session: aiohttp.ClientSession,
    receiver: Receiver,
    payload: dict[str, Any],
    environ: Mapping[str, str],
    first_backoff: float = FIRST_BACKOFF,
) -> bool:
    """True once the receiver answered 2xx; False when it was given up on (counted)."""
    body = orjson.dumps(payload)
    secret = environ.get(receiver.secret_env) if receiver.secret_env else None
    deadline = time.monotonic() + receiver.give_up_after
    backoff, event = first_backoff, str(payload.get("event"))
    while True:
        wait = await _attempt(session, receiver, body, payload.get("id"), secret)
        if wait is None:
            SENT.labels(receiver.name, event, "sent").inc()
            return True
        pause = min(max(wait, backoff), MAX_BACKOFF)
        if time.monotonic() + pause > deadline:
            SENT.labels(receiver.name, event, "dropped").inc()
            log.error("notify %s: gave up on %s event %s", receiver.name, event, payload.get("id"))
            return False
        SENT.labels(receiver.name, event, "retried").inc()
        await asyncio.sleep(pause)
        backoff = min(backoff * 2, MAX_BACKOFF)


async def _attempt(
    session: aiohttp.ClientSession,
    receiver: Receiver,
    body: bytes,
    event_id: object,
    secret: str | None,
) -> float | None:
    """None when delivered; else how long the receiver asked to wait (0: no preference)."""
    headers = {"content-type": "application/json", "x-llm-rollout-event-id": str(event_id)}
    if secret:
        headers["x-llm-rollout-signature"] = signature(secret, int(time.time()), body)
    try:
        timeout = aiohttp.ClientTimeout(total=receiver.timeout)
        async with session.post(receiver.url, data=body, headers=headers, timeout=timeout) as r:
            if 200 <= r.status < 300:
                return None
            log.warning("notify %s: answered %d", receiver.name, r.status)
            return _seconds(r.headers.get("retry-after"))
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("notify %s: %s", receiver.name, type(exc).__name__)
        return 0.0


def _seconds(value: str | None) -> float:
    try:
        return max(0.0, float(value)) if value is not None else 0.0
    except ValueError:
        return 0.0
