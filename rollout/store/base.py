"""The store's interfaces: eight small parts grouped in one `Store`, and the error they raise.

Two implementations follow these interfaces and one contract test suite checks both:
`embedded` (one process, files under a data directory) and `redis` (shared by every proxy replica
and the controller). Callers must treat every `StoreError` as "the store is unavailable right
now": serve from what they last knew, count the error, and try again later.

Every value that crosses the store is JSON (objects with str keys), serialised with orjson; what
comes back is always a fresh copy, never the caller's own object.
"""

from __future__ import annotations

import abc
import math
from collections.abc import AsyncIterator, Collection, Mapping
from typing import Any, Protocol, runtime_checkable

Doc = dict[str, Any]


@runtime_checkable
class Documents(Protocol):
    """JSON documents (rollout state, runtime flag overrides) with compare-and-set by revision."""

    async def read(self, key: str) -> tuple[Doc | None, int]:
        """The document and its revision; (None, 0) when absent."""
        ...

    async def write(self, key: str, doc: Doc, expected_rev: int) -> int | None:
        """Store `doc` if the current revision is `expected_rev` (0: must not exist yet).

        Returns the new revision (expected_rev + 1), or None when someone else wrote first.
        """
        ...

    async def delete(self, key: str) -> None:
        """Remove the document (no-op when absent); a later write must expect revision 0."""
        ...


@runtime_checkable
class Assignments(Protocol):
    """Sticky arms: which arm each subject was served within a scope (e.g. rollout + version).

    Scopes must not contain braces (ValueError); ttls must be > 0.
    """

    async def get_arms(self, scope: str, subjects: list[str]) -> dict[str, str]:
        """The known, unexpired arms of `subjects`; unknown subjects are left out."""
        ...

    async def put_arms(self, scope: str, arms: dict[str, str], ttl_seconds: float) -> None:
        """Record many subject → arm pairs at once, each expiring after `ttl_seconds`."""
        ...

    async def clear_arms(self, scope: str) -> None:
        """Forget every assignment of `scope` (rollback, new rollout version); others untouched."""
        ...


@runtime_checkable
class MetricWindows(Protocol):
    """Aggregated metrics per (rollout, time bucket), merged across replicas by addition.

    A bucket is named by its start (unix seconds, aligned by the caller). Fields are named numbers
    that add up: counts, sums, histogram bucket counts. Buckets expire `retention` seconds after
    their last write.
    """

    async def add(self, rollout: str, bucket_start: int, fields: dict[str, float]) -> None:
        """Add each value into the bucket's field of the same name (missing fields start at 0)."""
        ...

    async def read(self, rollout: str, start: int, end: int) -> dict[int, dict[str, float]]:
        """Every bucket with start <= bucket_start < end, by bucket start."""
        ...


@runtime_checkable
class SubjectCounts(Protocol):
    """Distinct subjects per (rollout, time bucket), merged across replicas by union.

    Subjects arrive already hashed (rollout/control/subject_counts.py): the store never sees a
    user id.
    A bucket is named by its start (unix seconds, aligned by the caller) and expires `retention`
    seconds after its last write. Redis counts with a HyperLogLog (about 0.8% standard error);
    the embedded store counts exactly.
    """

    async def add(self, rollout: str, buckets: Mapping[int, Collection[str]]) -> None:
        """Record the subjects seen in each bucket (one round trip for them all)."""
        ...

    async def count(self, rollout: str, since: int) -> int:
        """How many distinct subjects the buckets starting at or after `since` saw together."""
        ...


@runtime_checkable
class AuditLog(Protocol):
    """Append-only record of what was done, by whom and why.

    Entries are JSON objects. `ts` (unix seconds) is added when absent; `id` is reserved: read()
    returns each entry with its id under that key. Ids sort in append order.
    """

    async def append(self, entry: Doc) -> str:
        """Append `entry`; returns its id."""
        ...

    async def read(self, rollout: str | None = None, limit: int = 100) -> list[Doc]:
        """The newest `limit` entries (only those whose `rollout` field matches, if given),
        oldest first / newest last."""
        ...


@runtime_checkable
class PairSamples(Protocol):
    """Shadow pairs (a request, both answers and their comparison, already redacted) kept for
    people to read: the newest `keep` of each rollout, older ones dropped."""

    async def add(self, rollout: str, pair: Doc, keep: int) -> None: ...

    async def read(self, rollout: str, limit: int = 20) -> list[Doc]:
        """The newest `limit` pairs of `rollout`, oldest first / newest last."""
        ...


@runtime_checkable
class LeaderLock(Protocol):
    """A named lock held by one owner at a time until released or `ttl_seconds` pass."""

    async def acquire(self, name: str, owner: str, ttl_seconds: float) -> bool:
        """Take the lock, or renew it (fresh ttl) when `owner` holds it; False if another does."""
        ...

    async def release(self, name: str, owner: str) -> bool:
        """Release the lock if `owner` holds it; True when it did."""
        ...


class Subscription(abc.ABC):
    """Messages published on one channel, from subscription until exit.

    Use as `async with notifications.subscribe(channel) as sub: async for message in sub: ...`.
    Entering waits (at most the store's timeout) for the subscription to be in place, but never
    fails: when the store is unreachable, the subscription keeps trying in the background.
    Delivery is at most once: messages published while not subscribed (store down, reconnecting)
    are lost, so after `resubscribed` grows a consumer should re-read the documents it follows.
    """

    channel: str
    #: How many times the subscription was (re)established; 1 after a clean start.
    resubscribed: int
    #: Messages dropped because the consumer fell behind by more than the queue size.
    dropped: int

    @abc.abstractmethod
    async def __aenter__(self) -> Subscription: ...

    @abc.abstractmethod
    async def __aexit__(self, *exc_info: object) -> None: ...

    @abc.abstractmethod
    def __aiter__(self) -> AsyncIterator[Doc]: ...

    @abc.abstractmethod
    async def __anext__(self) -> Doc: ...

    @abc.abstractmethod
    async def wait_subscribed(self, timeout: float) -> bool:
        """Wait until the subscription is in place (again); False if `timeout` passed first."""


@runtime_checkable
class Notifications(Protocol):
    """Fire-and-forget messages to every current subscriber of a channel, on every replica."""

    async def publish(self, channel: str, message: Doc) -> None: ...

    def subscribe(self, channel: str) -> Subscription: ...


class Store(abc.ABC):
    """Everything the proxy and the controller keep outside their own memory."""

    kind: str
    documents: Documents
    assignments: Assignments
    metrics: MetricWindows
    subjects: SubjectCounts
    audit: AuditLog
    pairs: PairSamples
    leader: LeaderLock
    notifications: Notifications

    @abc.abstractmethod
    async def ping(self) -> bool:
        """True when the store answers within its timeout; never raises."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections, files and subscriptions; the store is unusable afterwards."""


def check_fields(fields: dict[str, float]) -> None:
    """Metric values must be finite numbers (Redis refuses NaN and infinities; so do we)."""
    for name, value in fields.items():
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise TypeError(f"metric field {name!r} must be a number, got {value!r}")
        if not math.isfinite(value):
            raise ValueError(f"metric field {name!r} must be finite, got {value!r}")


def check_scope(scope: str) -> None:
    """Scopes are written between braces in Redis keys, so they must not contain any."""
    if "{" in scope or "}" in scope:
        raise ValueError(f"assignment scope must not contain '{{' or '}}': {scope!r}")


def check_entry(entry: Doc) -> None:
    if "id" in entry:
        raise ValueError("audit entries must not carry an 'id': the log assigns it")


def ttl_ms(seconds: float) -> int:
    """A ttl in whole milliseconds, at least 1 (0 would mean 'no expiry' or an error)."""
    if not seconds > 0:
        raise ValueError(f"ttl must be > 0 seconds, got {seconds!r}")
    return max(1, round(seconds * 1000))
