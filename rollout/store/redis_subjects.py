"""Distinct subjects on Redis: one HyperLogLog per (rollout, bucket), counted as a union.

A HyperLogLog keeps at most 12 KB whatever the number of subjects (far less while sparse, for a
few thousand), counts with about 0.81% standard error, and merges across replicas: each adds
with PFADD, and PFCOUNT of several keys counts their union. It keeps no element, only
registers, so the (already hashed) subjects cannot be read back from it.

See redis_store.py for the key layout.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from redis.asyncio import Redis

from rollout.store.base import ttl_ms
from rollout.store.redis_base import Boundary, Keys

# PFCOUNT takes every key at once up to this many; beyond, the buckets are merged in chunks into
# a scratch key first (Lua's unpack() has a limit of a few thousand values).
_CHUNK = 1000

# KEYS[1] index zset, KEYS[2] scratch key; ARGV[1] bucket key base, ARGV[2] since, ARGV[3] chunk.
_COUNT = """
local keys = {}
for i, bucket in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[2], '+inf')) do
  keys[i] = ARGV[1] .. bucket
end
local chunk = tonumber(ARGV[3])
if #keys == 0 then return 0 end
if #keys <= chunk then return redis.call('PFCOUNT', unpack(keys)) end
redis.call('DEL', KEYS[2])
for i = 1, #keys, chunk do
  redis.call('PFMERGE', KEYS[2], unpack(keys, i, math.min(i + chunk - 1, #keys)))
end
local n = redis.call('PFCOUNT', KEYS[2])
redis.call('DEL', KEYS[2])
return n
"""


class RedisSubjects:
    def __init__(self, client: Redis, keys: Keys, boundary: Boundary, *, retention: float) -> None:
        self._client, self._keys, self._call = client, keys, boundary
        self._retention, self._retention_ms = retention, ttl_ms(retention)
        self._count = client.register_script(_COUNT)

    async def add(self, rollout: str, buckets: Mapping[int, Collection[str]]) -> None:
        """Every bucket in one MULTI round trip: PFADD, its expiry, and the index."""
        buckets = {int(b): subjects for b, subjects in buckets.items() if subjects}
        if not buckets:
            return
        k = self._keys
        index = k.subjects_index(rollout)
        pipe = self._client.pipeline(transaction=True)
        for bucket, subjects in buckets.items():
            key = k.subjects(rollout, bucket)
            pipe.pfadd(key, *subjects)
            pipe.pexpire(key, self._retention_ms)
            pipe.zadd(index, {str(bucket): bucket})
        pipe.zremrangebyscore(index, "-inf", f"({max(buckets) - self._retention}")
        pipe.pexpire(index, self._retention_ms)
        await self._call("subjects.add", pipe.execute())

    async def count(self, rollout: str, since: int) -> int:
        k = self._keys
        keys = [k.subjects_index(rollout), k.subjects_scratch(rollout)]
        args = [k.subjects(rollout, ""), int(since), _CHUNK]
        return int(await self._call("subjects.count", self._count(keys=keys, args=args)))
