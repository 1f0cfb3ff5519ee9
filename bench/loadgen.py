"""A lean HTTP/1.1 load generator for bench/proxy_bench.py, run in its own process.

Why not aiohttp's client: it costs more CPU per request than the proxy under test, so on a small
machine it would be the bottleneck. This one is an asyncio Protocol per keep-alive connection,
sends prebuilt request bytes and parses only what it must: the status, Content-Length or chunked
framing, and for SSE the `data:` events (first one = TTFT) up to `data: [DONE]`. Completion is
handled in callbacks (no task or future per request).

It is driven over stdin/stdout, one JSON object per line:

  {"cmd": "run", "mode": "closed"|"paced", ...}  -> {"completed": ..., "lat": {...}, ...}
  {"cmd": "hold", ...}                            -> {"open": N, ...}  (streams left open)
  {"cmd": "release"}                              -> {"closed": N}
  {"cmd": "quit"}

Modes: `closed` keeps `concurrency` requests in flight back to back (capacity); `paced` sends
`count` requests evenly spaced at `rate` per second over a pool of `pool` connections (latency
at a given load, without the bursts a closed loop makes). Latency is timed from the moment the
request is written; a send that could not go out on time (no idle connection, or the event loop
was late) is counted in `late_2ms` / `starved`, so a client that falls behind shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import socket
import sys
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

perf = time.perf_counter

_HEAD, _LENGTH, _CHUNKED, _UNTIL_CLOSE = 0, 1, 2, 3
_CONNECT_BATCH = 100
_GRACE = 5.0  # seconds allowed for in-flight requests after a run's time cap


class Conn(asyncio.Protocol):
    """One keep-alive connection; at most one request in flight (no pipelining)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.on_done: Callable[..., None] | None = None
        self.closed = False
        self.buf = b""
        self.state = _HEAD
        self.status = 0
        self.remaining = 0
        self.t0 = 0.0
        self.ttft = 0.0
        self.events = 0
        self.reads = 0
        self.done_seen = False
        self.stream = False
        self.keep_alive = True
        self.body: list[bytes] = []

    # -- asyncio callbacks ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.on_done is not None:
            if self.state == _UNTIL_CLOSE:
                self._finish(self._verdict())
            else:
                self._finish("reset")

    def data_received(self, data: bytes) -> None:
        if self.on_done is None:
            return  # unsolicited bytes (e.g. after an error): ignored
        buf = self.buf + data if self.buf else data
        if self.state == _HEAD:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return
            head = buf[: end + 2].lower()
            buf = buf[end + 4 :]
            try:
                self.status = int(head[9:12])
            except ValueError:
                self.buf = b""
                self._finish("bad_status_line")
                return
            if b"\r\nconnection: close" in head:
                self.keep_alive = False
            if b"\r\ntransfer-encoding: chunked" in head:
                self.state = _CHUNKED
            else:
                i = head.find(b"\r\ncontent-length:")
                if i >= 0:
                    self.remaining = int(head[i + 17 : head.index(b"\r\n", i + 2)])
                    self.state = _LENGTH
                else:
                    self.state = _UNTIL_CLOSE
        if self.state == _CHUNKED:
            self._chunked(buf)
        elif self.state == _LENGTH:
            self.body.append(buf)
            self.remaining -= len(buf)
            if self.remaining <= 0:
                self.buf = b""
                self._payload(b"".join(self.body))
                self._finish(self._verdict())
            else:
                self.buf = b""
        else:  # until close
            self.body.append(buf)
            self.buf = b""

    # -- parsing ----------------------------------------------------------------------------
    def _chunked(self, buf: bytes) -> None:
        pos, n = 0, len(buf)
        got_events = False
        finished = False
        while True:
            crlf = buf.find(b"\r\n", pos)
            if crlf < 0:
                break
            try:
                size = int(buf[pos:crlf].split(b";", 1)[0], 16)
            except ValueError:
                self.buf = b""
                self.keep_alive = False
                self._finish("bad_chunk")
                return
            if size == 0:
                if n < crlf + 4:
                    break
                pos, finished = crlf + 4, True
                break
            end = crlf + 2 + size
            if n < end + 2:
                break
            if self._payload(buf[crlf + 2 : end]):
                got_events = True
            pos = end + 2
        if got_events:
            self.reads += 1
        self.buf = buf[pos:] if pos < n else b""
        if finished:
            self._finish(self._verdict())

    def _payload(self, payload: bytes) -> bool:
        if not self.stream:
            self.body.append(payload)
            return False
        k = payload.count(b"data:")
        if not k:
            return False
        if not self.events:
            self.ttft = perf() - self.t0
        self.events += k
        if b"data: [DONE]" in payload:
            self.done_seen = True
        return True

    def _verdict(self) -> str:
        if self.status != 200:
            return f"status_{self.status}"
        if self.stream:
            return "ok" if self.done_seen else "no_done"
        return "ok" if b'"choices"' in b"".join(self.body) else "bad_body"

    def _finish(self, outcome: str) -> None:
        callback, self.on_done = self.on_done, None
        latency = perf() - self.t0
        self.body = []
        if not self.keep_alive and not self.closed:
            self.closed = True
            self.transport.close()  # type: ignore[union-attr]
        callback(self, outcome, latency)  # type: ignore[misc]

    # -- driving ----------------------------------------------------------------------------
    def start(self, request: bytes, stream: bool, on_done: Callable[..., None]) -> None:
        self.buf = b""
        self.state = _HEAD
        self.status = 0
        self.ttft = 0.0
        self.events = 0
        self.reads = 0
        self.done_seen = False
        self.keep_alive = True
        self.stream = stream
        self.on_done = on_done
        self.t0 = perf()
        self.transport.write(request)  # type: ignore[union-attr]


class Pool:
    """Idle keep-alive connections per (host, port), reused across runs."""

    def __init__(self) -> None:
        self.idle: dict[tuple[str, int], list[Conn]] = {}

    async def take(self, host: str, port: int, n: int) -> list[Conn]:
        have = [c for c in self.idle.pop((host, port), []) if not c.closed]
        conns, spare = have[:n], have[n:]
        if spare:
            self.idle[(host, port)] = spare
        while len(conns) < n:
            batch = min(_CONNECT_BATCH, n - len(conns))
            conns += await asyncio.gather(*(connect(host, port) for _ in range(batch)))
        return conns

    def give_back(self, host: str, port: int, conns: list[Conn]) -> None:
        self.idle.setdefault((host, port), []).extend(c for c in conns if not c.closed)

    def close_all(self) -> None:
        for conns in self.idle.values():
            for c in conns:
                if c.transport is not None:
                    c.transport.close()
        self.idle.clear()


async def connect(host: str, port: int) -> Conn:
    loop = asyncio.get_running_loop()
    _, conn = await loop.create_connection(Conn, host, port)
    return conn


def percentiles(values: list[float]) -> dict[str, float] | None:
    """Nearest-rank percentiles in milliseconds."""
    if not values:
        return None
    values = sorted(values)
    n = len(values)

    def at(q: float) -> float:
        return values[min(n - 1, max(0, math.ceil(q * n) - 1))] * 1000.0

    return {
        "p50": at(0.50),
        "p90": at(0.90),
        "p99": at(0.99),
        "p999": at(0.999),
        "max": values[-1] * 1000.0,
        "mean": sum(values) / n * 1000.0,
    }


class Run:
    """One measured run; results are gathered by the completion callback."""

    def __init__(self, spec: dict[str, Any], pool: Pool) -> None:
        self.spec = spec
        self.pool = pool
        self.host: str = spec["host"]
        self.port: int = spec["port"]
        self.request: bytes = spec["request"].encode("latin-1")
        self.stream: bool = spec["stream"]
        self.count: int = spec["count"]
        self.concurrency: int = spec["concurrency"]
        self.time_cap: float = spec["time_cap"]
        self.loop = asyncio.get_running_loop()
        self.lat: list[float] = []
        self.ttft: list[float] = []
        self.events = 0
        self.reads = 0
        self.outcomes: Counter[str] = Counter()
        self.in_flight: set[Conn] = set()
        self.issued = 0
        self.done: asyncio.Future[None] = self.loop.create_future()
        self.deadline = 0.0
        self.reconnects = 0
        self.conns: list[Conn] = []

    def record(self, conn: Conn, outcome: str, latency: float) -> None:
        self.in_flight.discard(conn)
        self.outcomes[outcome] += 1
        if outcome == "ok":
            self.lat.append(latency)
            if self.stream:
                self.ttft.append(conn.ttft)
                self.events += conn.events
                self.reads += conn.reads

    def send(self, conn: Conn, on_done: Callable[..., None]) -> None:
        self.issued += 1
        self.in_flight.add(conn)
        conn.start(self.request, self.stream, on_done)

    async def replace(self, on_done: Callable[..., None]) -> None:
        """A connection the server closed: open another and go on (closed loop)."""
        self.reconnects += 1
        try:
            conn = await connect(self.host, self.port)
        except OSError:
            self.outcomes["connect_error"] += 1
            self._maybe_done()
            return
        self.conns.append(conn)
        self.send(conn, on_done)

    def _maybe_done(self) -> None:
        if not self.in_flight and not self.done.done():
            self.done.set_result(None)

    # -- closed loop ------------------------------------------------------------------------
    async def closed(self) -> dict[str, Any]:
        self.conns = await self.pool.take(self.host, self.port, min(self.concurrency, self.count))
        start = perf()
        self.deadline = start + self.time_cap

        def on_done(conn: Conn, outcome: str, latency: float) -> None:
            self.record(conn, outcome, latency)
            if self.issued < self.count and perf() < self.deadline:
                if conn.closed:
                    self.loop.create_task(self.replace(on_done))
                else:
                    self.send(conn, on_done)
            else:
                self._maybe_done()

        for conn in list(self.conns):
            self.send(conn, on_done)
        return await self._finish(start)

    # -- paced (open loop over a bounded pool) ----------------------------------------------
    async def paced(self) -> dict[str, Any]:
        rate: float = self.spec["rate"]
        size = self.spec.get("pool", self.concurrency)
        self.conns = await self.pool.take(self.host, self.port, size)
        idle: deque[Conn] = deque(self.conns)
        peak = 0
        wake: list[asyncio.Future[None]] = []
        late_2ms = 0
        max_late = 0.0
        starved = 0

        def on_done(conn: Conn, outcome: str, latency: float) -> None:
            self.record(conn, outcome, latency)
            if not conn.closed:
                idle.append(conn)
            if wake and not wake[0].done():
                wake[0].set_result(None)
            if self.issued >= self.count or perf() >= self.deadline:
                self._maybe_done()

        start = perf()
        self.deadline = start + self.time_cap
        for i in range(self.count):
            due = start + i / rate
            delay = due - perf()
            if delay > 0:
                await asyncio.sleep(delay)
            if perf() >= self.deadline:
                break
            if not idle:
                starved += 1
                while not idle and perf() < self.deadline:
                    if len(idle) + len(self.in_flight) < size:
                        self.reconnects += 1
                        idle.append(await connect(self.host, self.port))
                        break
                    waiter = self.loop.create_future()
                    wake[:] = [waiter]
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(waiter, max(0.001, self.deadline - perf()))
                if not idle:
                    break
            late = perf() - due
            if late > 0.002:
                late_2ms += 1
            max_late = max(max_late, late)
            self.send(idle.popleft(), on_done)
            peak = max(peak, len(self.in_flight))
        self.conns = list(idle) + list(self.in_flight)
        self._maybe_done()
        result = await self._finish(start)
        result.update(
            late_2ms=late_2ms, max_late_ms=max_late * 1000.0, starved=starved, peak_in_flight=peak
        )
        return result

    async def _finish(self, start: float) -> dict[str, Any]:
        cpu0 = self.spec.get("_cpu0", 0.0)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.shield(self.done), max(0.1, self.deadline + _GRACE - perf())
            )
        wall = perf() - start
        for conn in list(self.in_flight):  # still running after the grace period
            self.outcomes["timeout"] += 1
            conn.on_done = None
            conn.closed = True
            conn.transport.abort()  # type: ignore[union-attr]
        self.pool.give_back(self.host, self.port, self.conns)
        completed = len(self.lat)
        return {
            "issued": self.issued,
            "completed": completed,
            "outcomes": dict(self.outcomes),
            "wall": wall,
            "rps": completed / wall if wall > 0 else 0.0,
            "lat": percentiles(self.lat),
            "ttft": percentiles(self.ttft) if self.stream else None,
            "events_per_stream": self.events / completed if self.stream and completed else None,
            "reads_per_stream": self.reads / completed if self.stream and completed else None,
            "mean_in_flight": sum(self.lat) / wall if wall > 0 else 0.0,
            "reconnects": self.reconnects,
            "loadgen_cpu": time.process_time() - cpu0,
        }


class Hold:
    """Open `count` streams on fresh connections and keep them open until `release`."""

    def __init__(self) -> None:
        self.conns: list[Conn] = []
        self.outcomes: Counter[str] = Counter()

    async def open(self, spec: dict[str, Any]) -> dict[str, Any]:
        host, port, n = spec["host"], spec["port"], spec["count"]
        request = spec["request"].encode("latin-1")
        start = perf()
        deadline = start + spec["time_cap"]

        def on_done(conn: Conn, outcome: str, latency: float) -> None:
            self.outcomes["ended_early_" + outcome] += 1

        while len(self.conns) < n and perf() < deadline:
            batch = min(_CONNECT_BATCH, n - len(self.conns))
            made = await asyncio.gather(
                *(connect(host, port) for _ in range(batch)), return_exceptions=True
            )
            for conn in made:
                if isinstance(conn, BaseException):
                    self.outcomes["connect_error:" + type(conn).__name__] += 1
                    continue
                self.conns.append(conn)
                conn.start(request, True, on_done)
        while perf() < deadline and self.streaming() < len(self.conns):
            await asyncio.sleep(0.05)
        return {
            "requested": n,
            "connected": len(self.conns),
            "open": self.streaming(),
            "outcomes": dict(self.outcomes),
            "seconds": perf() - start,
        }

    def streaming(self) -> int:
        """Streams that have had their first event and are still going."""
        return sum(1 for c in self.conns if c.on_done is not None and c.events > 0)

    def release(self) -> dict[str, Any]:
        still_open = self.streaming()
        for conn in self.conns:
            conn.on_done = None
            if conn.transport is not None:
                conn.transport.abort()
        closed = len(self.conns)
        self.conns = []
        return {"closed": closed, "open_at_release": still_open}


async def main() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    pool = Pool()
    hold = Hold()

    def reply(obj: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    while line := await reader.readline():
        cmd = json.loads(line)
        kind = cmd.get("cmd")
        try:
            if kind == "run":
                cmd["_cpu0"] = time.process_time()
                run = Run(cmd, pool)
                reply(await (run.closed() if cmd["mode"] == "closed" else run.paced()))
            elif kind == "hold":
                reply(await hold.open(cmd))
            elif kind == "release":
                reply(hold.release())
                await asyncio.sleep(0.2)
            elif kind == "reset_pool":
                pool.close_all()
                reply({"ok": True})
            elif kind == "quit":
                break
            else:
                reply({"error": f"unknown command {kind!r}"})
        except Exception as exc:
            reply({"error": f"{type(exc).__name__}: {exc}"})
    pool.close_all()


if __name__ == "__main__":
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        asyncio.run(main())
    else:
        uvloop.run(main())
