"""What every part of the Redis store shares: key names and the error/deadline boundary.

The key layout is documented in redis_store.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

import orjson
import redis.exceptions

from rollout.errors import StoreError
from rollout.store.base import Doc

T = TypeVar("T")

ERRORS = (redis.exceptions.RedisError, OSError, TimeoutError)


class Keys:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.audit = f"{prefix}audit"

    def doc(self, key: str) -> str:
        return f"{self.prefix}doc:{key}"

    def arm_gen(self, scope: str) -> str:
        return f"{self.prefix}armgen:{{{scope}}}"

    def arm_base(self, scope: str) -> str:
        """Followed by `<gen>:<subject>` inside the scripts."""
        return f"{self.prefix}arm:{{{scope}}}:"

    def metric(self, rollout: str, bucket: int | str) -> str:
        return f"{self.prefix}m:{rollout}:{bucket}"

    def metric_index(self, rollout: str) -> str:
        return f"{self.prefix}mi:{rollout}"

    def subjects(self, rollout: str, bucket: int | str) -> str:
        return f"{self.prefix}s:{rollout}:{bucket}"

    def subjects_index(self, rollout: str) -> str:
        return f"{self.prefix}si:{rollout}"

    def subjects_scratch(self, rollout: str) -> str:
        return f"{self.prefix}stmp:{rollout}"

    def audit_of(self, rollout: str) -> str:
        return f"{self.prefix}audit:r:{rollout}"

    def pairs(self, rollout: str) -> str:
        return f"{self.prefix}pairs:{rollout}"

    def lock(self, name: str) -> str:
        return f"{self.prefix}lock:{name}"

    def channel(self, name: str) -> str:
        return f"{self.prefix}ch:{name}"


class Boundary:
    """Runs one Redis operation within the deadline and maps its failures to StoreError."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout

    async def __call__(self, op: str, awaitable: Awaitable[T]) -> T:
        try:
            async with asyncio.timeout(self.timeout):
                return await awaitable
        except ERRORS as exc:
            raise StoreError(f"redis {op} failed: {describe(exc)}", op=op) from exc


def loads(op: str, raw: bytes) -> Doc:
    """Decode a stored JSON object; garbage in Redis is a store failure, not a crash."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise StoreError(f"redis {op}: undecodable value: {exc}", op=op) from exc


def describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError) and not str(exc):
        return "TimeoutError: no answer in time"
    return f"{type(exc).__name__}: {exc}"
