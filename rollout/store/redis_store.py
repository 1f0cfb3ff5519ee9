"""The Redis store, shared by every proxy replica and the controller.

Key layout (`<p>` is the key prefix, "llmr:" by default; `<...>` are placeholders, literal braces
are Redis hash tags):

    <p>doc:<key>                  hash {rev, doc}: a document (orjson) and its revision
    <p>armgen:{<scope>}           string: the scope's current generation (absent = 0)
    <p>arm:{<scope>}:<gen>:<subj>  string: the subject's arm, with a PX ttl (<subj>: the
                                  caller's key; the proxy gives a digest,
                                  rollout/targeting/cohorts.py)
    <p>m:<rollout>:<bucket>       hash field -> float: one metric window, PEXPIRE = retention
    <p>mi:<rollout>               zset bucket -> bucket: the windows that exist, for range reads
    <p>s:<rollout>:<bucket>       HyperLogLog of hashed subjects, PEXPIRE = retention
    <p>si:<rollout>               zset bucket -> bucket: the subject buckets that exist
    <p>stmp:<rollout>             scratch HyperLogLog, only inside one count of > 1000 buckets
    <p>audit                      stream, field "e" = entry (orjson), XADD MAXLEN ~ audit_maxlen
    <p>audit:r:<rollout>          stream: the same entries of one rollout, with the same ids
    <p>pairs:<rollout>            list of shadow pairs (orjson), trimmed to the newest `keep`
    <p>lock:<name>                string: the owner of a leader lock, with a PX ttl
    <p>ch:<channel>               pub/sub channel (not a key); messages are orjson objects

Clearing a scope's assignments is `INCR armgen:{scope}` (one command, O(1), atomic): reads and
writes go through Lua scripts that look up the generation and address `arm:{scope}:<gen>:...`,
so every older assignment becomes invisible at once, however many there are. Unlike SCAN +
UNLINK it cannot miss keys that replicas write while it runs (a script runs wholly before or
after the INCR), and it does not walk the keyspace. The orphaned keys expire by their own ttl;
the generation key itself never expires. Scopes may not contain braces (they delimit the scope).

Round trips: every operation is one (a single command, a Lua script, or a MULTI pipeline). Every
operation is bounded by `timeout` (socket timeouts plus an overall deadline, no retries), and
every failure (refused, timed out, reset, server error, undecodable data) is raised as
`StoreError` from the redis exception. The connection pool reconnects on the next call, so the
same store works again as soon as Redis is back.
"""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from rollout.errors import StoreError
from rollout.store.base import Store
from rollout.store.redis_base import Boundary, Keys
from rollout.store.redis_parts import (
    RedisAssignments,
    RedisAudit,
    RedisDocuments,
    RedisLeader,
    RedisMetrics,
    RedisPairs,
)
from rollout.store.redis_pubsub import RedisNotifications
from rollout.store.redis_subjects import RedisSubjects


class RedisStore(Store):
    kind = "redis"

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 0.25,
        key_prefix: str = "llmr:",
        metrics_retention: float = 24 * 3600,
        audit_maxlen: int = 100_000,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self._client = Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            socket_keepalive=True,
            retry=Retry(NoBackoff(), 0),  # the caller decides whether to try again, not us
            health_check_interval=0,  # no hidden extra PING round trips
            decode_responses=False,
        )
        keys, boundary = Keys(key_prefix), Boundary(timeout)
        self.documents = RedisDocuments(self._client, keys, boundary)
        self.assignments = RedisAssignments(self._client, keys, boundary)
        self.metrics = RedisMetrics(self._client, keys, boundary, retention=metrics_retention)
        self.subjects = RedisSubjects(self._client, keys, boundary, retention=metrics_retention)
        self.audit = RedisAudit(self._client, keys, boundary, maxlen=audit_maxlen)
        self.pairs = RedisPairs(self._client, keys, boundary)
        self.leader = RedisLeader(self._client, keys, boundary)
        self.notifications = self._notifications = RedisNotifications(self._client, keys, boundary)
        self._closed = False

    async def ping(self) -> bool:
        try:
            return bool(await Boundary(self.timeout)("ping", self._client.ping()))
        except StoreError:
            return False

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._notifications.close()
        await self._client.aclose()
