"""The store: documents, sticky assignments, metric windows, audit log, leader lock and
notifications, embedded (one process, files under a data dir) or on Redis (shared by every
replica). Interfaces in base.py; pick one with `open_store`.
"""

from __future__ import annotations

import os

from rollout.errors import StoreError
from rollout.store.base import (
    Assignments,
    AuditLog,
    Documents,
    LeaderLock,
    MetricWindows,
    Notifications,
    Store,
    Subscription,
)
from rollout.store.embedded import EmbeddedStore
from rollout.store.redis_store import RedisStore

__all__ = [
    "Assignments",
    "AuditLog",
    "Documents",
    "EmbeddedStore",
    "LeaderLock",
    "MetricWindows",
    "Notifications",
    "RedisStore",
    "Store",
    "StoreError",
    "Subscription",
    "open_store",
]


def open_store(
    redis_url: str | None,
    data_dir: str | os.PathLike[str],
    *,
    timeout: float = 0.25,
    key_prefix: str = "llmr:",
    metrics_retention: float = 24 * 3600,
    audit_maxlen: int = 100_000,
) -> Store:
    """The Redis store when `redis_url` is set (data_dir unused), else the embedded one.

    Never connects eagerly: a Redis store opens fine while Redis is down, and its operations
    raise StoreError until it is back. `timeout` bounds every Redis operation (seconds);
    `metrics_retention` is how long a metric window lives after its last write (seconds);
    `audit_maxlen` is how many audit entries Redis keeps (approximately) and the embedded
    store keeps in memory for reads (its file keeps everything).
    """
    if redis_url:
        return RedisStore(
            redis_url,
            timeout=timeout,
            key_prefix=key_prefix,
            metrics_retention=metrics_retention,
            audit_maxlen=audit_maxlen,
        )
    return EmbeddedStore(
        data_dir, timeout=timeout, metrics_retention=metrics_retention, audit_keep=audit_maxlen
    )
