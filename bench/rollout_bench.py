"""What a rollout costs on the request path, in one run: the fake provider direct, the proxy as a
plain passthrough, and the proxy with a rollout active at 50% (candidate: another model), two
flags (one matching nothing, one capping max_tokens for ~30% of subjects) and the Redis store.

    python bench/rollout_bench.py      # ~2 minutes; report to stdout and bench/results/rollout.md

Layout as in proxy_bench.py: both proxies pinned to core 0 (only one is loaded at a time); the
fake provider, a redis-server started here on a free port, and this driver, which is also the
load generator (bench/loadgen.py's loops, each request the next of a list of bodies, one subject
each), on core 1. Non-streaming requests, no upstream delay, in two modes: `capacity` (closed
loop, c=32: the proxy's core near saturation) and `paced` (an even 1000 req/s: the same load for
every setup). Setups are interleaved, REPEATS rounds, medians reported.

- proxy CPU ms/request: utime + stime of the proxy process over the phase / completed requests.
- Redis commands/request: the growth of INFO commandstats `calls` (every command but INFO) over
  the phase / completed requests. Commands inside a MULTI/EXEC pipeline or run by a Lua script
  count one by one, though each pipeline or script is one round trip; hence also
- Redis round trips/request: the growth of INFO stats `total_reads_processed` (socket reads
  of client requests; a pipeline sent at once is one), less this driver's own INFO calls.

"warm": a pool of 500 subjects (body `user`), each seen before the measured phases; "cold":
every request a subject never seen before.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import loadgen
import redis
import uvloop
from prometheus_client.parser import text_string_to_metric_families
from proxy_bench import (
    CLIENT_CORE,
    HOST,
    PROXY_CORE,
    RESULTS,
    Proc,
    Template,
    free_port,
    machine_busy,
    plain_proxy_config,
    request_text,
    wait_http,
)
from rollout_report import render

MODES: dict[str, dict[str, Any]] = {
    "capacity": {"mode": "closed", "concurrency": 32, "count": 8000},
    "paced": {"mode": "paced", "concurrency": 4, "pool": 8, "rate": 1000.0, "count": 4000},
}
SETUPS = ("direct", "passthrough", "rollout, warm subjects", "rollout, cold subjects")
REPEATS = 3
WARM_SUBJECTS = [f"bench-user-{i:04d}" for i in range(500)]
KNOBS = {"x-fake-output-tokens": "10"}
NOISY = 15.0  # % of a core used outside the benchmark during a phase: measure it again


def rollout_config(provider_port: int, redis_port: int) -> dict[str, Any]:
    return {
        **plain_proxy_config(provider_port),
        "store": {"redis_url": f"redis://{HOST}:{redis_port}/0"},
        "rollouts": [
            {
                "name": "bench-rollout",
                "subject": ["body:user"],
                "weight": 0.5,
                "candidate": {"model": "gpt-4o", "params": {"temperature": 0.0}},
            }
        ],
        "flags": [
            {
                "name": "never",
                "when": {"headers": {"x-bench-never": "1"}},
                "then": {"deny": {"message": "never matches"}},
            },
            {"name": "cap-some", "when": {"percent": 30}, "then": {"cap": {"max_tokens": 64}}},
        ],
    }


def request_bytes(port: int, subject: str) -> bytes:
    template = Template(
        "rollout",
        stream=False,
        capacity_knobs=KNOBS,
        paced_knobs=KNOBS,
        paced_upstream_s=0.0,
        body={
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "system", "content": "You are a concise release engineer."},
                {"role": "user", "content": "Say in one sentence why canary releases help."},
            ],
            "user": subject,
            "max_tokens": 256,
            "temperature": 0.2,
        },
    )
    return request_text(port, template, KNOBS).encode("latin-1")


class Rotating(loadgen.Run):
    """loadgen's closed and paced loops, each request the next body of a list."""

    def __init__(self, spec: dict[str, Any], pool: loadgen.Pool, requests: list[bytes]) -> None:
        super().__init__(spec, pool)
        self.requests = requests

    def send(self, conn: loadgen.Conn, on_done: Any) -> None:
        self.in_flight.add(conn)
        conn.start(self.requests[self.issued % len(self.requests)], False, on_done)
        self.issued += 1


@dataclass
class Phase:
    rps: float
    lat: dict[str, float]
    cpu_ms: float | None  # proxy CPU per completed request
    commands: Counter[str]  # Redis commands during the phase, by name
    round_trips: int  # Redis reads of client requests during the phase
    completed: int
    errors: int
    other_load: float  # % of a core used by processes outside the benchmark


class Bench:
    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="rollout-bench-"))
        self.loop = uvloop.new_event_loop()
        self.pool = loadgen.Pool()
        self.procs: list[Proc] = []

    # -- processes ----------------------------------------------------------------------------
    def start(self) -> None:
        os.sched_setaffinity(0, {CLIENT_CORE})  # this driver is the load generator
        RESULTS.mkdir(parents=True, exist_ok=True)
        self.provider_port, redis_port = free_port(), free_port()
        settings = self.tmp / "fake.yaml"
        settings.write_text("record_limit: 0\n")  # recording would cost core 1 time
        argv = [sys.executable, "-m", "rollout.cli.main", "--log-level", "warning", "fake-provider"]
        argv += ["--host", HOST, "--port", str(self.provider_port), "--settings", str(settings)]
        provider = self._spawn("fake provider", argv, CLIENT_CORE)
        wait_http(self.provider_port, "/v1/models", provider)
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        argv = [binary, "--port", str(redis_port), "--bind", HOST, "--save", ""]
        self._spawn("redis", [*argv, "--appendonly", "no", "--dir", str(self.tmp)], CLIENT_CORE)
        self.redis = redis.Redis(host=HOST, port=redis_port)
        self._wait_redis()
        self.plain = self._proxy("passthrough", plain_proxy_config(self.provider_port))
        self.rollout = self._proxy("rollout", rollout_config(self.provider_port, redis_port))

    def _spawn(self, name: str, argv: list[str], core: int) -> Proc:
        proc = Proc(name, argv, core, RESULTS / f"rollout-bench-{name.replace(' ', '-')}.log")
        self.procs.append(proc)
        return proc

    def _wait_redis(self) -> None:
        deadline = time.monotonic() + 10
        while True:
            try:
                self.redis.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise SystemExit("redis-server did not answer within 10 s") from None
                time.sleep(0.05)

    def _proxy(self, name: str, config: dict[str, Any]) -> tuple[Proc, int, int]:
        port, admin = free_port(), free_port()
        config |= {"listen": {"host": HOST, "port": port}, "admin": {"host": HOST, "port": admin}}
        path = self.tmp / f"{name}.yaml"
        path.write_text(json.dumps(config, indent=2))  # JSON is YAML
        argv = [sys.executable, "-m", "rollout.cli.main", "--log-level", "warning", "serve"]
        proc = self._spawn(f"proxy-{name}", [*argv, "--config", str(path)], PROXY_CORE)
        wait_http(port, "/readyz", proc)
        return proc, port, admin

    def stop(self) -> None:
        self.pool.close_all()
        for proc in reversed(self.procs):
            proc.stop()
        self.loop.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- measuring ----------------------------------------------------------------------------
    def commands(self) -> tuple[Counter[str], int]:
        """Commands run so far by name, and socket reads (two of them this call's INFOs)."""
        stats = self.redis.info("commandstats")
        reads = self.redis.info("stats")["total_reads_processed"]
        return Counter({k[8:]: v["calls"] for k, v in stats.items() if k != "cmdstat_info"}), reads

    def load(self, port: int, requests: list[bytes], mode: str, count: int = 0) -> dict:
        spec = {"host": HOST, "port": port, "request": "", "stream": False, "time_cap": 60.0}
        spec |= MODES[mode] | ({"count": count} if count else {})

        async def go() -> dict:
            spec["_cpu0"] = time.process_time()
            run = Rotating(spec, self.pool, requests)  # it binds to the running loop
            return await (run.closed() if spec["mode"] == "closed" else run.paced())

        return self.loop.run_until_complete(go())

    def measured(
        self, proxy: Proc | None, port: int, requests: list[bytes], mode: str, settle: float
    ) -> Phase:
        """`settle`: seconds after the load still counted (a flush of new candidates)."""
        time.sleep(0.3)  # the previous phase's tail (record stages, closes) is not counted
        cpu0, cmd0 = proxy.cpu() if proxy else 0.0, self.commands()
        ours0, busy0, t0 = self._ours(), machine_busy(), time.monotonic()
        result = self.load(port, requests, mode)
        time.sleep(settle)
        cpu1, cmd1 = proxy.cpu() if proxy else 0.0, self.commands()
        ours = self._ours() - ours0 + result["loadgen_cpu"]
        other = max(0.0, machine_busy() - busy0 - ours) / (time.monotonic() - t0) * 100
        done = result["completed"]
        return Phase(
            rps=result["rps"],
            lat=result["lat"] or {},
            cpu_ms=(cpu1 - cpu0) / done * 1000 if proxy and done else None,
            commands=cmd1[0] - cmd0[0],
            round_trips=cmd1[1] - cmd0[1] - 2,
            completed=done,
            errors=sum(n for k, n in result["outcomes"].items() if k != "ok"),
            other_load=other,
        )

    def quiet(self, *args: Any) -> Phase:
        """A measured phase, again (up to twice) if something else was busy meanwhile."""
        phase = self.measured(*args)
        for _ in range(2):
            if phase.other_load <= NOISY:
                break
            print(f"  other load {phase.other_load:.0f}%: again", file=sys.stderr, flush=True)
            time.sleep(2.0)
            again = self.measured(*args)
            phase = again if again.other_load < phase.other_load else phase
        return phase

    def _ours(self) -> float:
        t = os.times()  # the driver's own CPU; the load loop's is in loadgen_cpu as well
        return sum(p.cpu() for p in self.procs) + t.user + t.system

    def seen(self) -> dict[str, float]:
        """Assignments by arm and matches by flag on the rollout proxy, from its /metrics."""
        url = f"http://{HOST}:{self.rollout[2]}/metrics"
        with urllib.request.urlopen(url, timeout=5) as resp:
            text = resp.read().decode()
        out: Counter[str] = Counter()
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                if s.name == "llm_rollout_assignments_total":
                    out["arm:" + s.labels["arm"]] += s.value
                elif s.name == "llm_rollout_flag_matches_total":
                    out["flag:" + s.labels["flag"]] += s.value
        return dict(out)


def run(bench: Bench) -> dict[tuple[str, str], list[Phase]]:
    plain, plain_port, _ = bench.plain
    rollout, rollout_port, _ = bench.rollout
    targets = {
        "direct": (None, bench.provider_port),
        "passthrough": (plain, plain_port),
        "rollout, warm subjects": (rollout, rollout_port),
        "rollout, cold subjects": (rollout, rollout_port),
    }
    warm = {port: [request_bytes(port, s) for s in WARM_SUBJECTS] for _, port in targets.values()}
    # Warm-up: code paths, connections, every warm subject seen by the rollout proxy; then past
    # its once-a-second flush, so that its candidates are in the store before measuring.
    for _, port in targets.values():
        bench.load(port, warm[port], "capacity", count=4 * len(WARM_SUBJECTS))
    time.sleep(1.5)
    phases: dict[tuple[str, str], list[Phase]] = {(m, s): [] for m in MODES for s in SETUPS}
    for rep in range(REPEATS):
        for mode in MODES:
            print(f"… round {rep + 1} of {REPEATS}, {mode}", file=sys.stderr, flush=True)
            for setup, (proc, port) in targets.items():
                requests, settle = warm[port], 0.1
                if setup.endswith("cold subjects"):
                    fresh = (f"cold-{mode}-{rep}-{i}" for i in range(MODES[mode]["count"]))
                    requests = [request_bytes(port, s) for s in fresh]
                    settle = 1.2  # past the next once-a-second flush of the new candidates
                phases[(mode, setup)].append(bench.quiet(proc, port, requests, mode, settle))
    return phases


def main() -> int:
    bench = Bench()
    started = time.monotonic()
    try:
        bench.start()
        phases = run(bench)
        report = render(phases, bench.seen(), time.monotonic() - started, MODES)
        crashed = [p.name for p in bench.procs if "Traceback" in p.tail(5000)]
    finally:
        bench.stop()
    if crashed:
        report += f"\n\nTracebacks in the logs of: {', '.join(crashed)} (bench/results/)."
    print(report)
    (RESULTS / "rollout.md").write_text(report + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
