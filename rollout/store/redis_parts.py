"""Documents, assignments, metric windows, audit log, shadow pairs and leader lock on Redis: one
round trip each.

See redis_store.py for the key layout.
"""

from __future__ import annotations

import time

import orjson
from redis.asyncio import Redis

from rollout.store.base import Doc, check_entry, check_fields, check_scope, ttl_ms
from rollout.store.redis_base import Boundary, Keys, loads

# KEYS[1] doc hash; ARGV[1] expected revision, ARGV[2] document. Returns the new revision or nil.
_CAS = """
local rev = tonumber(redis.call('HGET', KEYS[1], 'rev') or '0')
if rev ~= tonumber(ARGV[1]) then return false end
redis.call('HSET', KEYS[1], 'rev', rev + 1, 'doc', ARGV[2])
return rev + 1
"""

# KEYS[1] generation; ARGV[1] key base, ARGV[2..] subjects. Returns arms (nil when unknown).
_GET_ARMS = """
local base = ARGV[1] .. (redis.call('GET', KEYS[1]) or '0') .. ':'
local out = {}
for i = 2, #ARGV do out[i - 1] = redis.call('GET', base .. ARGV[i]) end
return out
"""

# KEYS[1] generation; ARGV[1] key base, ARGV[2] ttl ms, ARGV[3..] subject, arm pairs.
_PUT_ARMS = """
local base = ARGV[1] .. (redis.call('GET', KEYS[1]) or '0') .. ':'
for i = 3, #ARGV, 2 do redis.call('SET', base .. ARGV[i], ARGV[i + 1], 'PX', ARGV[2]) end
return 0
"""

# KEYS[1] index zset; ARGV[1] window key base, ARGV[2] start, ARGV[3] end (exclusive).
# Returns bucket, {field, value, ...}, bucket, ... for the windows that still exist.
_READ_WINDOWS = """
local out = {}
for _, bucket in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[2], '(' .. ARGV[3])) do
  local fields = redis.call('HGETALL', ARGV[1] .. bucket)
  if #fields > 0 then out[#out + 1] = bucket; out[#out + 1] = fields end
end
return out
"""

# KEYS[1] audit stream, KEYS[2] (optional) the rollout's stream; ARGV[1] maxlen, ARGV[2] entry.
_APPEND = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[2])
if KEYS[2] then redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], id, 'e', ARGV[2]) end
return id
"""

# KEYS[1] lock; ARGV[1] owner, ARGV[2] ttl ms. Takes a free lock or renews our own.
_ACQUIRE = """
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if owner then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class _Part:
    def __init__(self, client: Redis, keys: Keys, boundary: Boundary) -> None:
        self._client, self._keys, self._call = client, keys, boundary


class RedisDocuments(_Part):
    def __init__(self, client: Redis, keys: Keys, boundary: Boundary) -> None:
        super().__init__(client, keys, boundary)
        self._cas = client.register_script(_CAS)

    async def read(self, key: str) -> tuple[Doc | None, int]:
        rev, raw = await self._call(
            "documents.read", self._client.hmget(self._keys.doc(key), ["rev", "doc"])
        )
        return (None, 0) if raw is None else (loads("documents.read", raw), int(rev))

    async def write(self, key: str, doc: Doc, expected_rev: int) -> int | None:
        raw = orjson.dumps(doc)
        rev = await self._call(
            "documents.write", self._cas(keys=[self._keys.doc(key)], args=[expected_rev, raw])
        )
        return None if rev is None else int(rev)

    async def delete(self, key: str) -> None:
        await self._call("documents.delete", self._client.unlink(self._keys.doc(key)))


class RedisAssignments(_Part):
    def __init__(self, client: Redis, keys: Keys, boundary: Boundary) -> None:
        super().__init__(client, keys, boundary)
        self._get = client.register_script(_GET_ARMS)
        self._put = client.register_script(_PUT_ARMS)

    async def get_arms(self, scope: str, subjects: list[str]) -> dict[str, str]:
        check_scope(scope)
        if not subjects:
            return {}
        k = self._keys
        arms = await self._call(
            "assignments.get",
            self._get(keys=[k.arm_gen(scope)], args=[k.arm_base(scope), *subjects]),
        )
        return {s: a.decode() for s, a in zip(subjects, arms, strict=True) if a is not None}

    async def put_arms(self, scope: str, arms: dict[str, str], ttl_seconds: float) -> None:
        check_scope(scope)
        ttl = ttl_ms(ttl_seconds)
        if not arms:
            return
        k = self._keys
        args: list[str | int] = [k.arm_base(scope), ttl]
        for subject, arm in arms.items():
            args += (subject, arm)
        await self._call("assignments.put", self._put(keys=[k.arm_gen(scope)], args=args))

    async def clear_arms(self, scope: str) -> None:
        check_scope(scope)
        await self._call("assignments.clear", self._client.incr(self._keys.arm_gen(scope)))


class RedisMetrics(_Part):
    def __init__(self, client: Redis, keys: Keys, boundary: Boundary, *, retention: float) -> None:
        super().__init__(client, keys, boundary)
        self._retention, self._retention_ms = retention, ttl_ms(retention)
        self._read = client.register_script(_READ_WINDOWS)

    async def add(self, rollout: str, bucket_start: int, fields: dict[str, float]) -> None:
        check_fields(fields)
        if not fields:
            return
        bucket = int(bucket_start)
        window, index = self._keys.metric(rollout, bucket), self._keys.metric_index(rollout)
        pipe = self._client.pipeline(transaction=True)
        for name, value in fields.items():
            pipe.hincrbyfloat(window, name, value)
        pipe.pexpire(window, self._retention_ms)
        pipe.zadd(index, {str(bucket): bucket})
        pipe.zremrangebyscore(index, "-inf", f"({bucket - self._retention}")
        pipe.pexpire(index, self._retention_ms)
        await self._call("metrics.add", pipe.execute())

    async def read(self, rollout: str, start: int, end: int) -> dict[int, dict[str, float]]:
        k = self._keys
        flat = await self._call(
            "metrics.read",
            self._read(keys=[k.metric_index(rollout)], args=[k.metric(rollout, ""), start, end]),
        )
        out: dict[int, dict[str, float]] = {}
        for bucket, fields in zip(flat[::2], flat[1::2], strict=True):
            out[int(bucket)] = {
                name.decode(): float(value)
                for name, value in zip(fields[::2], fields[1::2], strict=True)
            }
        return out


class RedisAudit(_Part):
    def __init__(self, client: Redis, keys: Keys, boundary: Boundary, *, maxlen: int) -> None:
        super().__init__(client, keys, boundary)
        self._maxlen = maxlen
        self._append = client.register_script(_APPEND)

    async def append(self, entry: Doc) -> str:
        check_entry(entry)
        if "ts" not in entry:
            entry = {**entry, "ts": time.time()}
        rollout = entry.get("rollout")
        keys = [self._keys.audit]
        if isinstance(rollout, str):
            keys.append(self._keys.audit_of(rollout))
        entry_id = await self._call(
            "audit.append", self._append(keys=keys, args=[self._maxlen, orjson.dumps(entry)])
        )
        return entry_id.decode()

    async def read(self, rollout: str | None = None, limit: int = 100) -> list[Doc]:
        if limit <= 0:
            return []
        key = self._keys.audit if rollout is None else self._keys.audit_of(rollout)
        rows = await self._call("audit.read", self._client.xrevrange(key, count=limit))
        return [{"id": i.decode(), **loads("audit.read", row[b"e"])} for i, row in rows[::-1]]


class RedisPairs(_Part):
    """A list per rollout: RPUSH then LTRIM to the newest `keep`, in one MULTI round trip."""

    async def add(self, rollout: str, pair: Doc, keep: int) -> None:
        key = self._keys.pairs(rollout)
        pipe = self._client.pipeline(transaction=True)
        pipe.rpush(key, orjson.dumps(pair))
        pipe.ltrim(key, -keep, -1)
        await self._call("pairs.add", pipe.execute())

    async def read(self, rollout: str, limit: int = 20) -> list[Doc]:
        if limit <= 0:
            return []
        rows = await self._call(
            "pairs.read", self._client.lrange(self._keys.pairs(rollout), -limit, -1)
        )
        return [loads("pairs.read", row) for row in rows]


class RedisLeader(_Part):
    def __init__(self, client: Redis, keys: Keys, boundary: Boundary) -> None:
        super().__init__(client, keys, boundary)
        self._acquire = client.register_script(_ACQUIRE)
        self._release = client.register_script(_RELEASE)

    async def acquire(self, name: str, owner: str, ttl_seconds: float) -> bool:
        ttl = ttl_ms(ttl_seconds)
        got = await self._call(
            "leader.acquire", self._acquire(keys=[self._keys.lock(name)], args=[owner, ttl])
        )
        return bool(got)

    async def release(self, name: str, owner: str) -> bool:
        gone = await self._call(
            "leader.release", self._release(keys=[self._keys.lock(name)], args=[owner])
        )
        return bool(gone)
