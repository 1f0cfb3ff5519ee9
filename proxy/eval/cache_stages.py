"""The response cache around the forward stage: a hit answers from disk before forward runs,
through the same taps (side parsers) as a live answer; a miss is recorded as it streams by and
kept once it has succeeded."""

from __future__ import annotations

from time import perf_counter

import orjson
from aiohttp import web

from proxy.eval.stages import REPEAT_HEADER
from proxy.exchange import Exchange
from rollout.eval.cache import CachedAnswer, ResponseCache, cache_key

MAX_CACHED_BYTES = 8 * 1024 * 1024  # an answer larger than this is not kept


class RecordingTap:
    """Keeps the upstream's bytes as they pass, for the cache."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.status = 0
        self.encoding: str | None = None
        self.chunks: list[bytes] = []
        self.size = 0

    def start(self, status: int, encoding: str | None) -> None:
        self.status, self.encoding = status, encoding

    def feed(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size <= MAX_CACHED_BYTES:
            self.chunks.append(chunk)


class CacheLookup:
    name = "cache_lookup"

    def __init__(self, cache: ResponseCache) -> None:
        self.cache = cache

    async def __call__(self, ex: Exchange) -> None:
        if ex.upstream is None or ex.route is None:
            return
        body = orjson.dumps(ex.payload) if ex.payload_changed else (ex.body or b"")
        path = ex.request.raw_path[ex.route.strip :]
        repeat = int(ex.request.headers.get(REPEAT_HEADER, "0"))
        key = cache_key(ex.upstream.name, ex.model, path, body, repeat)
        found = self.cache.get(key)
        if found is None:
            ex.taps.append(RecordingTap(key))
            return
        replay(ex, found)


def replay(ex: Exchange, answer: CachedAnswer) -> None:
    """Answer from the cache: the taps read the bytes as they read a live answer, and the
    exchange's clock shows the original call's timings (a replay's own take no time)."""
    now = perf_counter()
    ex.started = now - answer.duration
    for tap in ex.taps:
        tap.start(answer.status, answer.encoding)
        tap.feed(answer.body)
    if answer.ttfb is not None:
        ex.first_byte_at = ex.started + answer.ttfb
    if ex.observer is not None:
        ex.observer.obs.first_token_at = None if answer.ttft is None else ex.started + answer.ttft
    ex.status, ex.finished_at = answer.status, now
    ex.notes.add("cache_hit")
    headers = {"Content-Type": answer.content_type} if answer.content_type else None
    ex.response = web.Response(status=answer.status, body=answer.body, headers=headers)


class CacheSave:
    name = "cache_save"

    def __init__(self, cache: ResponseCache) -> None:
        self.cache = cache

    async def __call__(self, ex: Exchange) -> None:
        tap = next((t for t in ex.taps if isinstance(t, RecordingTap)), None)
        if tap is None or ex.error is not None or ex.duration is None:
            return
        if tap.size > MAX_CACHED_BYTES or not 200 <= (ex.status or 0) < 300:
            return  # never an error, never a partial body
        obs = ex.observation
        ttft = None
        if obs is not None and obs.first_token_at is not None:
            ttft = obs.first_token_at - ex.started
        content_type = ex.response.headers.get("Content-Type") if ex.response else None
        self.cache.put(
            tap.key,
            CachedAnswer(
                status=tap.status,
                encoding=tap.encoding,
                content_type=content_type,
                body=b"".join(tap.chunks),
                ttfb=ex.ttfb,
                ttft=ttft,
                duration=ex.duration,
            ),
        )
