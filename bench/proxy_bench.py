"""Benchmark the proxy: the fake provider alone (direct) vs through the proxy, in the same run.

    python bench/proxy_bench.py                 # the default run (~2-3 minutes), table to stdout
                                                # and to bench/results/latest.md
    python bench/proxy_bench.py --profile       # cProfile of the proxy, non-streaming c=128
    python bench/proxy_bench.py --profile --profiler py-spy  # sampling (pip install py-spy)

Layout on a 2-core machine: ONE proxy process pinned to core 0; the fake provider, the load
generator (bench/loadgen.py, its own process) and this driver pinned to core 1. CPU is read from
/proc/<pid>/stat (utime + stime, whole thread group, child processes included) before and after
each measured phase. See bench/README.md for what each figure means.

Scenarios are data: a Workload (request template x concurrency) is run once directly against the
provider and once per ProxySetup (a proxy config). To add one (observation on/off, a rollout at
50% with the Redis store, shadow traffic), append a ProxySetup to SETUPS or a Workload to
WORKLOADS; every row is compared with the direct row of the same workload.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import http.client
import io
import json
import os
import platform
import pstats
import resource
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
RESULTS = BENCH / "results"
HOST = "127.0.0.1"
PROXY_CORE = 0
CLIENT_CORE = 1
TICK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    """One kind of request: the body, and the fake provider's knobs (x-fake-* headers) for the
    capacity phase (as fast as possible) and the paced phase (a realistic upstream delay)."""

    name: str
    stream: bool
    capacity_knobs: dict[str, str]
    paced_knobs: dict[str, str]
    paced_upstream_s: float  # how long one request takes upstream in the paced phase
    body: dict[str, Any] = field(
        default_factory=lambda: {
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "system", "content": "You are a concise release engineer."},
                {"role": "user", "content": "Say in one sentence why canary releases help."},
            ],
            "user": "bench-user-0001",
            "temperature": 0.2,
        }
    )


@dataclass(frozen=True)
class Workload:
    template: Template
    concurrency: int
    capacity_count: int  # requests in the closed-loop capacity phase
    paced_seconds: float  # length of the paced phase; count = rate x seconds

    @property
    def name(self) -> str:
        return f"{self.template.name} c={self.concurrency}"


@dataclass(frozen=True)
class ProxySetup:
    """A proxy configuration under test. `config(provider_port)` returns the config dict
    (rollout/config/model.py); `listen` is filled in by the harness. `launcher`: a script in
    bench/ and its arguments, run with the config path first, instead of `rollout serve`."""

    name: str
    config: Callable[[int], dict[str, Any]]
    launcher: tuple[str, ...] = ()


def plain_proxy_config(provider_port: int) -> dict[str, Any]:
    return {
        "providers": {
            "fake": {"kind": "openai", "base_url": f"http://{HOST}:{provider_port}/v1"},
        },
        "routes": [{"prefix": "/v1", "provider": "fake"}],
    }


NON_STREAM = Template(
    name="non-stream",
    stream=False,
    capacity_knobs={"x-fake-output-tokens": "10"},
    paced_knobs={"x-fake-output-tokens": "10", "x-fake-latency": "0.1"},
    paced_upstream_s=0.1,
)
# Streams: role chunk + 10 content chunks + finish chunk + [DONE] = 13 SSE events. In the
# capacity phase chunks are 1 ms apart so each is its own read/write (as with a real LLM),
# not coalesced by TCP; in the paced phase 10 ms apart after a 50 ms TTFT.
STREAM = Template(
    name="stream 10 chunks",
    stream=True,
    capacity_knobs={"x-fake-output-tokens": "10", "x-fake-inter-chunk": "0.001"},
    paced_knobs={
        "x-fake-output-tokens": "10",
        "x-fake-ttft": "0.05",
        "x-fake-inter-chunk": "0.01",
    },
    paced_upstream_s=0.05 + 9 * 0.01,
)

WORKLOADS = [
    Workload(NON_STREAM, 32, capacity_count=6000, paced_seconds=8.0),
    Workload(NON_STREAM, 128, capacity_count=8000, paced_seconds=8.0),
    Workload(STREAM, 32, capacity_count=3000, paced_seconds=8.0),
    Workload(STREAM, 128, capacity_count=4000, paced_seconds=8.0),
]
SETUPS = [ProxySetup("proxy", plain_proxy_config)]

HOLD_STREAMS = 1000
HOLD_KNOBS = {"x-fake-output-tokens": "30", "x-fake-inter-chunk": "2.0"}

SERIAL_COUNT = {False: 2000, True: 600}  # c=1 back-to-back requests per template
PACED_POOL = 1.5  # paced phase: connections per request in flight on average

PHASE_TIME_CAP = 30.0  # seconds; a phase stops issuing requests after this
NOISY_LOAD = 15.0  # % of a core used by other processes during a phase: measure it again
NOISY_RETRIES = 2  # per phase
NOISY_RETRY_BUDGET = 8  # per run, so that a busy machine does not stretch it much
WARMUP = 400

TARGETS_NOTE = "one proxy worker on one core"


# ---------------------------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------------------------


def pinned(core: int) -> Callable[[], None]:
    def pin() -> None:
        os.sched_setaffinity(0, {core})

    return pin


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _tree(pid: int) -> list[int]:
    """pid and all its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
    return out


def cpu_seconds(pid: int) -> float:
    total = 0
    for p in _tree(pid):
        with contextlib.suppress(OSError), open(f"/proc/{p}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / TICK


def status_kb(pid: int, key: str) -> int:
    total = 0
    for p in _tree(pid):
        with contextlib.suppress(OSError), open(f"/proc/{p}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    total += int(line.split()[1])
    return total


def machine_busy() -> float:
    """CPU seconds all processes and the kernel spent on every CPU (steal excluded)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:8]]
    return (v[0] + v[1] + v[2] + v[5] + v[6]) / TICK  # user nice system irq softirq


def driver_cpu() -> float:
    t = os.times()
    return t.user + t.system


def fd_count(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


class Proc:
    """A child process pinned to one core, its output in a log file."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        core: int,
        log: Path,
        pipe: bool = False,
        src: Path = REPO,
    ) -> None:
        self.name, self.log = name, log
        env = None if src == REPO else {**os.environ, "PYTHONPATH": str(src)}
        with open(log, "wb") as out:  # the child keeps its own copy of the descriptor
            self.popen = subprocess.Popen(
                argv,
                cwd=src,
                env=env,
                stdin=subprocess.PIPE if pipe else subprocess.DEVNULL,
                stdout=subprocess.PIPE if pipe else out,
                stderr=out if pipe else subprocess.STDOUT,
                preexec_fn=pinned(core),
            )
        self.pid = self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def rss_mb(self) -> float:
        return status_kb(self.pid, "VmRSS") / 1024

    def hwm_mb(self) -> float:
        return status_kb(self.pid, "VmHWM") / 1024

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.alive():
            self.popen.send_signal(sig)
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)


def wait_http(port: int, path: str, proc: Proc, seconds: float = 20.0) -> None:
    """Poll until GET path answers (any status): bounded in time."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not proc.alive():
            raise SystemExit(f"{proc.name} exited early:\n{proc.tail()}")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=1)
            conn.request("GET", path)
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{proc.name} not answering on port {port} after {seconds}s:\n{proc.tail()}")


def extract_ref(ref: str, dest: Path) -> Path:
    """proxy/ and rollout/ as of git commit `ref`, in `dest` (a PYTHONPATH for Proc's src)."""
    dest.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", ref, "proxy", "rollout"], cwd=REPO, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


class LoadGen:
    """bench/loadgen.py in its own process, driven one JSON line at a time."""

    def __init__(self, log: Path) -> None:
        self.proc = Proc(
            "loadgen",
            [sys.executable, str(BENCH / "loadgen.py")],
            CLIENT_CORE,
            log,
            pipe=True,
        )

    def call(self, cmd: dict[str, Any], timeout: float) -> dict[str, Any]:
        popen = self.proc.popen
        popen.stdin.write((json.dumps(cmd) + "\n").encode())  # type: ignore[union-attr]
        popen.stdin.flush()  # type: ignore[union-attr]
        ready, _, _ = select.select([popen.stdout], [], [], timeout)
        if not ready:
            raise SystemExit(f"load generator did not answer within {timeout:.0f}s")
        line = popen.stdout.readline()  # type: ignore[union-attr]
        if not line:
            raise SystemExit(f"load generator exited:\n{self.proc.tail()}")
        answer = json.loads(line)
        if "error" in answer:
            raise SystemExit(f"load generator error: {answer['error']}")
        return answer

    def quit(self) -> None:
        if self.proc.alive():
            with contextlib.suppress(OSError):
                self.proc.popen.stdin.write(b'{"cmd": "quit"}\n')  # type: ignore[union-attr]
                self.proc.popen.stdin.close()  # type: ignore[union-attr]
            try:
                self.proc.popen.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.stop()


def request_text(port: int, template: Template, knobs: dict[str, str]) -> str:
    """The raw HTTP/1.1 request, headers like the OpenAI Python SDK sends."""
    body = json.dumps({**template.body, "stream": template.stream}, separators=(",", ":"))
    lines = [
        "POST /v1/chat/completions HTTP/1.1",
        f"Host: {HOST}:{port}",
        "Accept: application/json",
        "Accept-Encoding: gzip, deflate",
        "Content-Type: application/json",
        "User-Agent: OpenAI/Python 1.40.0",
        "Authorization: Bearer sk-bench-000000000000000000000000",
        "X-Stainless-Lang: python",
        "X-Stainless-Package-Version: 1.40.0",
        "X-Stainless-OS: Linux",
        "X-Stainless-Arch: x64",
        "X-Stainless-Runtime: CPython",
        "X-Stainless-Runtime-Version: 3.11.7",
        "X-Stainless-Retry-Count: 0",
        *(f"{k}: {v}" for k, v in knobs.items()),
        f"Content-Length: {len(body.encode())}",
        "",
        body,
    ]
    return "\r\n".join(lines[:-1]) + "\r\n" + lines[-1]


# ---------------------------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------------------------


@dataclass
class Phase:
    """One measured phase: the load generator's answer plus the CPU the processes used."""

    result: dict[str, Any]
    proxy_cpu: float | None  # seconds
    provider_cpu: float
    other_load: float = 0.0  # % of one core used by processes outside the benchmark

    @property
    def completed(self) -> int:
        return self.result["completed"]

    def per_req_ms(self, seconds: float | None) -> float | None:
        if seconds is None or not self.completed:
            return None
        return seconds / self.completed * 1000

    def busy(self, seconds: float | None) -> float | None:
        wall = self.result["wall"]
        return None if seconds is None or wall <= 0 else seconds / wall * 100

    def errors(self) -> dict[str, int]:
        return {k: v for k, v in self.result["outcomes"].items() if k != "ok"}


@dataclass
class Row:
    workload: Workload
    setup: str  # "direct" or a ProxySetup name
    capacity: Phase
    paced: Phase
    rate: float
    proxy_rss_mb: float | None = None
    proxy_hwm_mb: float | None = None


class Bench:
    # The fake provider's settings (YAML; JSON is YAML): recording would cost core 1 time.
    provider_settings = "record_limit: 0\n"

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="proxy-bench-"))
        RESULTS.mkdir(parents=True, exist_ok=True)
        self.provider_port = free_port()
        self.provider: Proc | None = None
        self.loadgen: LoadGen | None = None
        self.proxies: dict[str, tuple[Proc, int]] = {}
        self.retries_left = NOISY_RETRY_BUDGET
        self.proxy_src = REPO
        if args.proxy_ref:  # the proxy's code as of a commit, e.g. to compare with HEAD
            self.proxy_src = extract_ref(args.proxy_ref, self.tmp / "src")

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        os.sched_setaffinity(0, {CLIENT_CORE})
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = min(hard, 65536) if hard != resource.RLIM_INFINITY else 65536
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))  # children inherit it
        settings = self.tmp / "fake.yaml"
        settings.write_text(self.provider_settings)
        if self.args.provider_cmd:
            argv = shlex.split(self.args.provider_cmd.format(host=HOST, port=self.provider_port))
        else:
            argv = [sys.executable, "-m", "rollout.cli.main", "--log-level", "warning"]
            argv += ["fake-provider", "--host", HOST, "--port", str(self.provider_port)]
            argv += ["--settings", str(settings)]
        self.provider = Proc("fake provider", argv, CLIENT_CORE, RESULTS / "provider.log")
        wait_http(self.provider_port, "/v1/models", self.provider)
        self.loadgen = LoadGen(RESULTS / "loadgen.log")

    def proxy(self, setup: ProxySetup, profiled: bool = False) -> tuple[Proc, int]:
        if setup.name in self.proxies:
            return self.proxies[setup.name]
        port = free_port()
        config = setup.config(self.provider_port)
        config["listen"] = {"host": HOST, "port": port}
        # A free admin port: several setups may run side by side (the default is fixed).
        config.setdefault("admin", {"host": HOST, "port": 0})
        path = self.tmp / f"proxy-{setup.name.replace(' ', '-')}.yaml"
        path.write_text(json.dumps(config, indent=2))  # JSON is YAML
        if profiled and self.args.profiler == "cprofile":
            argv = [sys.executable, str(BENCH / "profiled_proxy.py"), str(path)]
            argv += [str(RESULTS / "proxy.prof")]
        elif setup.launcher:
            script, *options = setup.launcher
            argv = [sys.executable, str(BENCH / script), str(path), *options]
        else:
            argv = [sys.executable, "-m", "rollout.cli.main", "--log-level", "warning", "serve"]
            argv += ["--config", str(path)]
        log = RESULTS / f"proxy-{setup.name.replace(' ', '-')}.log"
        proc = Proc(f"proxy[{setup.name}]", argv, PROXY_CORE, log, src=self.proxy_src)
        wait_http(port, "/healthz", proc)
        affinity = os.sched_getaffinity(proc.pid)
        if affinity != {PROXY_CORE}:
            raise SystemExit(f"proxy not pinned: affinity {affinity}")
        self.proxies[setup.name] = (proc, port)
        return proc, port

    def stop(self) -> None:
        if self.loadgen is not None:
            self.loadgen.quit()
        for proc, _ in self.proxies.values():
            proc.stop()
        if self.provider is not None:
            self.provider.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- phases -----------------------------------------------------------------------------
    def _run(self, port: int, template: Template, knobs: dict[str, str], **spec: Any) -> dict:
        cmd = {
            "cmd": "run",
            "host": HOST,
            "port": port,
            "request": request_text(port, template, knobs),
            "stream": template.stream,
            "time_cap": PHASE_TIME_CAP,
            **spec,
        }
        return self.loadgen.call(cmd, timeout=PHASE_TIME_CAP + 30)  # type: ignore[union-attr]

    def _measured(self, proxy: Proc | None, run: Callable[[], dict]) -> Phase:
        assert self.provider is not None
        time.sleep(0.2)  # let the previous phase's tail (record stages, closes) finish
        m0, d0, t0 = machine_busy(), driver_cpu(), time.monotonic()
        p0 = proxy.cpu() if proxy else 0.0
        f0 = self.provider.cpu()
        result = run()
        time.sleep(0.1)
        p1 = proxy.cpu() if proxy else 0.0
        f1 = self.provider.cpu()
        m1, d1, t1 = machine_busy(), driver_cpu(), time.monotonic()
        if proxy is not None and not proxy.alive():
            raise SystemExit(f"{proxy.name} died:\n{proxy.tail()}")
        ours = (p1 - p0) + (f1 - f0) + result["loadgen_cpu"] + (d1 - d0)
        other = max(0.0, (m1 - m0) - ours) / (t1 - t0) * 100
        return Phase(result, None if proxy is None else p1 - p0, f1 - f0, other)

    def _quiet(self, proxy: Proc | None, run: Callable[[], dict]) -> Phase:
        """A measured phase, run once more if something outside the benchmark was using the
        CPUs meanwhile (a shared machine); keeps the quietest attempt."""
        phase = self._measured(proxy, run)
        for _ in range(NOISY_RETRIES):
            if phase.other_load <= NOISY_LOAD or self.retries_left <= 0:
                break
            self.retries_left -= 1
            print(f"  other load {phase.other_load:.0f}%: again", file=sys.stderr, flush=True)
            time.sleep(2.0)
            again = self._measured(proxy, run)
            if again.other_load < phase.other_load:
                phase = again
        return phase

    def workload(self, wl: Workload, setup: ProxySetup | None) -> Row:
        proxy, port = (None, self.provider_port) if setup is None else self.proxy(setup)
        t, c = wl.template, wl.concurrency
        scale = self.args.scale
        self._run(port, t, t.capacity_knobs, mode="closed", concurrency=c, count=WARMUP + 2 * c)
        capacity = self._quiet(
            proxy,
            lambda: self._run(
                port,
                t,
                t.capacity_knobs,
                mode="closed",
                concurrency=c,
                count=max(c * 4, int(wl.capacity_count * scale)),
            ),
        )
        rate = c / t.paced_upstream_s
        count = max(c * 4, int(rate * wl.paced_seconds * scale))
        pool = int(c * PACED_POOL) + 2
        paced = self._quiet(
            proxy,
            lambda: self._run(
                port,
                t,
                t.paced_knobs,
                mode="paced",
                concurrency=c,
                pool=pool,
                count=count,
                rate=rate,
            ),
        )
        row = Row(wl, "direct" if setup is None else setup.name, capacity, paced, rate)
        if proxy is not None:
            row.proxy_rss_mb, row.proxy_hwm_mb = proxy.rss_mb(), proxy.hwm_mb()
        return row

    def serial(self, setup: ProxySetup) -> list[dict[str, Any]]:
        """c=1, back to back, no upstream delay: the proxy's own critical-path latency."""
        _, pport = self.proxy(setup)
        out = []
        for t in (NON_STREAM, STREAM):
            n = max(50, int(SERIAL_COUNT[t.stream] * self.args.scale))
            for name, port in (("direct", self.provider_port), (setup.name, pport)):
                self._run(port, t, t.capacity_knobs, mode="closed", concurrency=1, count=100)
                res = self._run(port, t, t.capacity_knobs, mode="closed", concurrency=1, count=n)
                out.append({"template": t.name, "path": name, "result": res})
        return out

    def environment(self) -> dict[str, Any]:
        """Loopback round trip between a process on core 0 and this one on core 1, back to
        back and after 5 ms idle: the floor under every added-latency figure on this machine."""
        port = free_port()
        echo = (
            "import socket,sys\n"
            "s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
            f"s.bind(('{HOST}',{port}));s.listen(1);print('up',flush=True)\n"
            "c,_=s.accept();c.setsockopt(socket.IPPROTO_TCP,socket.TCP_NODELAY,1)\n"
            "while (d:=c.recv(64)): c.sendall(d)\n"
        )
        server = subprocess.Popen(
            [sys.executable, "-c", echo],
            stdout=subprocess.PIPE,
            preexec_fn=pinned(PROXY_CORE),
        )
        result: dict[str, Any] = {}
        try:
            server.stdout.readline()  # type: ignore[union-attr]
            with socket.create_connection((HOST, port), timeout=5) as sock:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                for label, gap in (("busy", 0.0), ("after 5 ms idle", 0.005)):
                    rtts = []
                    for _ in range(300):
                        t0 = time.perf_counter()
                        sock.sendall(b"x")
                        sock.recv(64)
                        rtts.append(time.perf_counter() - t0)
                        if gap:
                            time.sleep(gap)
                    rtts.sort()
                    result[label] = {
                        "p50": rtts[len(rtts) // 2] * 1e3,
                        "p99": rtts[int(len(rtts) * 0.99)] * 1e3,
                    }
        finally:
            server.kill()
            server.wait(5)
        return result

    def hold(self, setup: ProxySetup) -> dict[str, Any]:
        """RSS of the proxy with HOLD_STREAMS concurrent streams open."""
        proxy, port = self.proxy(setup)
        assert self.loadgen is not None
        self.loadgen.call({"cmd": "reset_pool"}, timeout=10)
        time.sleep(0.5)
        before = {"rss": proxy.rss_mb(), "fds": fd_count(proxy.pid)}
        answer = self.loadgen.call(
            {
                "cmd": "hold",
                "host": HOST,
                "port": port,
                "count": HOLD_STREAMS,
                "request": request_text(port, STREAM, HOLD_KNOBS),
                "time_cap": 30.0,
            },
            timeout=60,
        )
        time.sleep(0.5)  # let the proxy settle with every stream open
        during = {"rss": proxy.rss_mb(), "hwm": proxy.hwm_mb(), "fds": fd_count(proxy.pid)}
        released = self.loadgen.call({"cmd": "release"}, timeout=30)
        # The proxy must cancel the upstream calls and close both sides: watch its fds drop.
        after_fds = fd_count(proxy.pid)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and after_fds > before["fds"] + 5:
            time.sleep(0.2)
            after_fds = fd_count(proxy.pid)
        after = {"rss": proxy.rss_mb(), "fds": after_fds}
        return {"answer": answer, "released": released, "before": before, "during": during,
                "after": after}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def plus(value: float | None, base: float | None, digits: int = 2) -> str:
    if value is None or base is None:
        return "-"
    return f"{value - base:+.{digits}f}"


def stat(phase: Phase, key: str, q: str) -> float | None:
    block = phase.result.get(key)
    return None if not block else block[q]


def main_table(rows: list[Row]) -> list[str]:
    out = [
        "| workload | path | max req/s | lat p50 | lat p99 | +p50 | +p99 | TTFT p50 | TTFT p99 "
        "| +TTFT p50 | +TTFT p99 | proxy CPU ms/req (capacity / paced) | proxy RSS MB | errors "
        "| other load % |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|",
    ]
    direct: dict[str, Row] = {}
    for r in rows:
        if r.setup == "direct":
            direct[r.workload.name] = r
        d = direct.get(r.workload.name)
        is_d = r is d
        p, dp = r.paced, d.paced if d else None

        def added(key: str, q: str, p: Phase = p, dp: Phase | None = dp, is_d: bool = is_d) -> str:
            if is_d or dp is None:
                return ""
            return plus(stat(p, key, q), stat(dp, key, q))

        errors = {**r.capacity.errors()}
        for k, v in r.paced.errors().items():
            errors[k] = errors.get(k, 0) + v
        cpu = (
            "-"
            if r.capacity.proxy_cpu is None
            else f"{fmt(r.capacity.per_req_ms(r.capacity.proxy_cpu), 3)} / "
            f"{fmt(r.paced.per_req_ms(r.paced.proxy_cpu), 3)}"
        )
        out.append(
            f"| {r.workload.name} | {r.setup} | {r.capacity.result['rps']:.0f} "
            f"| {fmt(stat(p, 'lat', 'p50'))} | {fmt(stat(p, 'lat', 'p99'))} "
            f"| {added('lat', 'p50')} | {added('lat', 'p99')} "
            f"| {fmt(stat(p, 'ttft', 'p50'))} | {fmt(stat(p, 'ttft', 'p99'))} "
            f"| {added('ttft', 'p50')} | {added('ttft', 'p99')} "
            f"| {cpu} | {fmt(r.proxy_rss_mb, 1)} "
            f"| {', '.join(f'{k}: {v}' for k, v in errors.items()) or '0'} "
            f"| {r.capacity.other_load:.0f} / {r.paced.other_load:.0f} |"
        )
    return out


def diagnostics_table(rows: list[Row]) -> list[str]:
    out = [
        "| workload | path | capacity: req/s | lat p50 / p99 ms | core 0 (proxy) busy "
        "| core 1 (provider + loadgen) busy | provider CPU ms/req | loadgen CPU ms/req "
        "| bound by | paced: offered / achieved req/s | in flight mean / peak "
        "| sends late >2 ms / no idle conn | core 1 busy | provider CPU ms/req "
        "| SSE events / reads per stream |",
        "|---|---|--:|--:|--:|--:|--:|--:|---|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        cap, pac = r.capacity, r.paced
        p0 = cap.busy(cap.proxy_cpu)
        p1 = cap.busy(cap.provider_cpu + cap.result["loadgen_cpu"])
        bound = "-"
        if p0 is not None and p0 >= 90:
            bound = "proxy (core 0)"
        elif p1 is not None and p1 >= 90:
            bound = "core 1 (provider+loadgen)"
        events = pac.result.get("events_per_stream")
        reads = pac.result.get("reads_per_stream")
        sse = "-" if events is None else f"{events:.1f} / {reads:.1f}"
        out.append(
            f"| {r.workload.name} | {r.setup} | {cap.result['rps']:.0f} "
            f"| {fmt(stat(cap, 'lat', 'p50'), 1)} / {fmt(stat(cap, 'lat', 'p99'), 1)} "
            f"| {fmt(p0, 0)}% | {fmt(p1, 0)}% "
            f"| {fmt(cap.per_req_ms(cap.provider_cpu), 3)} "
            f"| {fmt(cap.per_req_ms(cap.result['loadgen_cpu']), 3)} | {bound} "
            f"| {r.rate:.0f} / {pac.result['rps']:.0f} "
            f"| {pac.result['mean_in_flight']:.0f} / {pac.result['peak_in_flight']} "
            f"| {pac.result['late_2ms']} / {pac.result['starved']} "
            f"| {fmt(pac.busy(pac.provider_cpu + pac.result['loadgen_cpu']), 0)}% "
            f"| {fmt(pac.per_req_ms(pac.provider_cpu), 3)} | {sse} |"
        )
    return out


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "MISS")


def targets(rows: list[Row], hold: dict[str, Any] | None, setup: str) -> list[str]:
    mine = [r for r in rows if r.setup == setup]
    direct = {r.workload.name: r for r in rows if r.setup == "direct"}

    def worst_cpu(stream: bool, label: str) -> tuple[float | None, str]:
        values = []
        for r in mine:
            if r.workload.template.stream != stream:
                continue
            ph = r.capacity if label == "capacity" else r.paced
            v = ph.per_req_ms(ph.proxy_cpu)
            if v is not None:
                values.append((v, r.workload.name))
        return max(values) if values else (None, "")

    def worst_added(key: str, q: str, only: Callable[[Row], bool]) -> tuple[float | None, str]:
        values = []
        for r in mine:
            d = direct.get(r.workload.name)
            if not only(r) or d is None:
                continue
            a, b = stat(r.paced, key, q), stat(d.paced, key, q)
            if a is not None and b is not None:
                values.append((a - b, r.workload.name))
        return max(values) if values else (None, "")

    lines = [
        f"| target ({TARGETS_NOTE}) | measured (worst case) | where | verdict |",
        "|---|--:|---|---|",
    ]

    def add(label: str, value: float | None, where: str, limit: float, unit: str) -> None:
        ok = None if value is None else value <= limit
        lines.append(f"| {label} | {fmt(value, 3)} {unit} | {where} | {verdict(ok)} |")

    for label in ("capacity", "paced"):
        v, w = worst_cpu(False, label)
        add(f"proxy CPU ≤ 0.3 ms per non-streaming request ({label})", v, w, 0.3, "ms")
    for label in ("capacity", "paced"):
        v, w = worst_cpu(True, label)
        add(f"proxy CPU ≤ 0.6 ms per 10-chunk stream ({label})", v, w, 0.6, "ms")
    at128 = lambda r: r.workload.concurrency == 128  # noqa: E731
    v, w = worst_added("lat", "p50", at128)
    add("added latency p50 ≤ 0.5 ms at c=128", v, w, 0.5, "ms")
    v, w = worst_added("lat", "p99", at128)
    add("added latency p99 ≤ 3 ms at c=128", v, w, 3.0, "ms")
    v, w = worst_added("ttft", "p99", lambda r: r.workload.template.stream)
    add("added TTFT p99 ≤ 1 ms", v, w, 1.0, "ms")
    if hold is not None:
        rss = hold["during"]["rss"]
        opened = hold["answer"]["open"]
        where = f"{opened} of {HOLD_STREAMS} streams open"
        ok = opened >= HOLD_STREAMS and rss <= 150
        lines.append(
            f"| proxy RSS ≤ 150 MB with {HOLD_STREAMS} open streams | {rss:.1f} MB | {where} "
            f"| {verdict(ok)} |"
        )
    return lines


def hold_lines(hold: dict[str, Any]) -> list[str]:
    a, b, d, f = hold["answer"], hold["before"], hold["during"], hold["after"]
    return [
        f"- streams requested {a['requested']}, connected {a['connected']}, open (first event "
        f"received, not finished) {a['open']} after {a['seconds']:.1f} s; "
        f"still open at release: {hold['released']['open_at_release']}"
        + (f"; problems: {a['outcomes']}" if a["outcomes"] else ""),
        f"- proxy RSS: {b['rss']:.1f} MB before, {d['rss']:.1f} MB with the streams open "
        f"(peak VmHWM {d['hwm']:.1f} MB), {f['rss']:.1f} MB after release",
        f"- proxy file descriptors: {b['fds']} before, {d['fds']} with the streams open "
        f"(expect ~2 per stream: client + upstream), {f['fds']} after release",
    ]


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GB RAM, Linux {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def versions() -> str:
    from importlib.metadata import version

    parts = []
    for pkg in ("aiohttp", "uvloop", "orjson"):
        with contextlib.suppress(Exception):
            parts.append(f"{pkg} {version(pkg)}")
    return ", ".join(parts)


def git_rev(ref: str | None) -> str:
    if ref:
        return f"proxy/ and rollout/ as of {ref}"
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "proxy", "rollout"],
            cwd=REPO,
            capture_output=True,
            text=True,
        ).stdout.strip()
        return rev + (" + uncommitted changes in proxy/ or rollout/" if dirty else "")
    except OSError:
        return "unknown"


def problem_lines(problems: dict[str, list[str]]) -> list[str]:
    """The report's lines for log_problems() of each process: the processes with any."""
    lines: list[str] = []
    for name, bad in problems.items():
        if bad:
            lines += [f"{name} log lines worth a look:", "", "```", *bad, "```", ""]
    return lines


def publish(report: str, out: Path) -> None:
    """The report to stdout and to `out`."""
    print(report)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report + "\n")


def log_problems(proc: Proc) -> list[str]:
    try:
        lines = proc.log.read_text(errors="replace").splitlines()
    except OSError:
        return []
    bad = [ln for ln in lines if any(w in ln for w in ("Traceback", "ERROR", "WARNING", "Error"))]
    return bad[:10]


# ---------------------------------------------------------------------------------------------
# Profiling
# ---------------------------------------------------------------------------------------------


def profile(bench: Bench) -> None:
    wanted = bench.args.only or "non-stream c=128"
    wl = next((w for w in WORKLOADS if wanted in w.name), None)
    if wl is None:
        raise SystemExit(f"no workload matches {wanted!r}")
    setup = SETUPS[0]
    proxy, port = bench.proxy(setup, profiled=True)
    t, c = wl.template, wl.concurrency
    count = max(c * 4, int(wl.capacity_count * bench.args.scale))
    bench._run(port, t, t.capacity_knobs, mode="closed", concurrency=c, count=WARMUP + 2 * c)
    prof = RESULTS / ("proxy.prof" if bench.args.profiler == "cprofile" else "proxy.pyspy.txt")
    with contextlib.suppress(FileNotFoundError):
        prof.unlink()
    spy = None
    if bench.args.profiler == "cprofile":
        os.kill(proxy.pid, signal.SIGUSR1)
    else:
        exe = shutil.which("py-spy")
        if exe is None:
            raise SystemExit("py-spy not found: pip install py-spy, or use --profiler cprofile")
        with open(RESULTS / "py-spy.log", "wb") as spy_log:
            argv = [exe, "record", "--pid", str(proxy.pid), "--rate", "1000"]
            argv += ["--format", "raw", "--function", "--output", str(prof), "--nonblocking"]
            spy = subprocess.Popen(
                argv,
                stdout=spy_log,
                stderr=subprocess.STDOUT,
                preexec_fn=pinned(CLIENT_CORE),
            )
        time.sleep(1.0)  # py-spy attaches
    phase = bench._measured(
        proxy,
        lambda: bench._run(
            port, t, t.capacity_knobs, mode="closed", concurrency=c, count=count * 2
        ),
    )
    if spy is None:
        os.kill(proxy.pid, signal.SIGUSR2)
    else:
        spy.send_signal(signal.SIGINT)
        spy.wait(30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not prof.exists():
        time.sleep(0.2)
    time.sleep(0.5)
    done = phase.completed
    print(f"\nProfile of the proxy, {wl.name}, {done} requests through it.")
    print(
        f"Proxy CPU {phase.per_req_ms(phase.proxy_cpu):.3f} ms/request with the profiler on "
        f"(profiling slows it; compare functions with each other, not with the targets)."
    )
    if spy is None:
        print_cprofile(prof, done)
    else:
        print_pyspy(prof, done)
    print(f"\nraw profile: {prof.relative_to(REPO)}")


def print_cprofile(path: Path, requests: int) -> None:
    for key, title in (("tottime", "own time"), ("cumulative", "cumulative time")):
        buf = io.StringIO()
        stats = pstats.Stats(str(path), stream=buf)
        stats.strip_dirs().sort_stats(key).print_stats(25)
        text = buf.getvalue()
        start = text.find("   ncalls")
        print(f"\n## Top 25 by {title} (cProfile; divide by {requests} requests)\n")
        print(text[start:].rstrip())


def print_pyspy(path: Path, requests: int) -> None:
    own: dict[str, int] = {}
    cum: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        count = int(n)
        frames = stack.split(";")
        total += count
        leaf = frames[-1]
        own[leaf] = own.get(leaf, 0) + count
        for frame in set(frames):
            cum[frame] = cum.get(frame, 0) + count
    if not total:
        print("py-spy recorded no samples (see bench/results/py-spy.log)")
        return
    rate = 1000.0
    root = max(cum.values())  # the chain every full stack starts with: runpy, cli, asyncio.run
    cum = {frame: n for frame, n in cum.items() if n < root}
    by_file: dict[str, int] = {}
    for frame, n in own.items():
        where = frame.rpartition("(")[2].rpartition(":")[0] or frame
        by_file[where] = by_file.get(where, 0) + n
    for title, table, label in (
        ("own time", own, "function (file:first line)"),
        ("cumulative time", cum, "function (file:first line)"),
        ("own time per file", by_file, "file"),
    ):
        print(f"\n## Top 25 by {title} (py-spy, {total} samples at {rate:.0f} Hz)\n")
        print(f"{'share':>7} {'us/req':>8}  {label}")
        for frame, n in sorted(table.items(), key=lambda kv: -kv[1])[:25]:
            us = n / rate / requests * 1e6
            print(f"{n / total:7.1%} {us:8.1f}  {frame}")
    print(
        "\nOwn time of a Python function includes the C code and system calls it makes "
        "(socket writes under _writelines, epoll and reads under Runner.run)."
    )


# ---------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", action="store_true", help="profile the proxy only")
    parser.add_argument("--profiler", choices=["cprofile", "py-spy"], default="cprofile")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply request counts")
    parser.add_argument(
        "--only",
        help="run only workloads whose name contains this (with --profile: the one to profile, "
        "default 'non-stream c=128')",
    )
    parser.add_argument("--no-hold", action="store_true", help="skip the open-streams test")
    parser.add_argument(
        "--provider-cmd",
        help="command running another provider instead of the built-in fake, with {host} {port}",
    )
    parser.add_argument(
        "--poll-idle",
        action="store_true",
        help="keep idle CPUs polling (PM QoS) during the run, to separate VM wake-up latency",
    )
    parser.add_argument(
        "--proxy-ref",
        help="benchmark the proxy code of this git commit (default: the working tree)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.md")
    return parser.parse_args(argv)


def steal_ticks() -> int:
    """Ticks the hypervisor took from this VM's CPUs (the 8th value of /proc/stat's cpu line)."""
    with open("/proc/stat") as f:
        return int(f.readline().split()[8])


@contextlib.contextmanager
def poll_idle(enabled: bool):
    """With --poll-idle, ask the kernel (PM QoS, /dev/cpu_dma_latency = 0) to keep idle CPUs
    polling instead of halting, for as long as the file stays open. On a VM a halted vCPU takes
    tens to hundreds of microseconds to wake; this shows how much of the added latency is that."""
    if not enabled:
        yield False
        return
    try:
        fd = os.open("/dev/cpu_dma_latency", os.O_WRONLY)
    except OSError as exc:
        print(f"--poll-idle unavailable: {exc}", file=sys.stderr)
        yield False
        return
    try:
        os.write(fd, (0).to_bytes(4, sys.byteorder))
        yield True
    finally:
        os.close(fd)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if len(os.sched_getaffinity(0)) < 2 or os.cpu_count() is None or os.cpu_count() < 2:
        raise SystemExit("needs at least 2 cores (proxy on core 0, everything else on core 1)")
    bench = Bench(args)
    started = time.monotonic()
    steal0 = steal_ticks()
    try:
        with poll_idle(args.poll_idle) as polling:
            bench.start()
            if args.profile:
                profile(bench)
                return 0
            info: dict[str, Any] = {"polling": polling, "ref": args.proxy_ref}
            info["env"] = bench.environment()
            rows: list[Row] = []
            workloads = [w for w in WORKLOADS if not args.only or args.only in w.name]
            for wl in workloads:
                for setup in [None, *SETUPS]:
                    name = "direct" if setup is None else setup.name
                    print(f"… {wl.name} / {name}", file=sys.stderr, flush=True)
                    rows.append(bench.workload(wl, setup))
            print("… serial requests (c=1)", file=sys.stderr, flush=True)
            info["serial"] = bench.serial(SETUPS[0])
            hold = None
            if not args.no_hold:
                print(f"… {HOLD_STREAMS} open streams / {SETUPS[0].name}", file=sys.stderr)
                hold = bench.hold(SETUPS[0])
            info["problems"] = {p.name: log_problems(p) for p, _ in bench.proxies.values()}
            info["steal_s"] = (steal_ticks() - steal0) / TICK
            info["took"] = time.monotonic() - started
            report = render(rows, hold, info)
    finally:
        bench.stop()
    publish(report, args.out)
    print(f"\n(written to {args.out})", file=sys.stderr)
    return 0


def serial_lines(serial: list[dict[str, Any]]) -> list[str]:
    out = [
        "| request | path | lat p50 | lat p99 | +p50 | +p99 | TTFT p50 | TTFT p99 | +TTFT p50 "
        "| +TTFT p99 | errors |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    base: dict[str, dict[str, Any]] = {}
    for item in serial:
        res, name = item["result"], item["template"]
        direct = base.setdefault(name, res)

        def val(key: str, q: str, res: dict = res) -> float | None:
            return res[key][q] if res.get(key) else None

        def add(key: str, q: str, res: dict = res, direct: dict = direct) -> str:
            if res is direct or not direct.get(key) or not res.get(key):
                return ""
            return plus(res[key][q], direct[key][q], 3)

        errors = {k: v for k, v in res["outcomes"].items() if k != "ok"}
        out.append(
            f"| {name} | {item['path']} "
            f"| {fmt(val('lat', 'p50'), 3)} | {fmt(val('lat', 'p99'), 3)} "
            f"| {add('lat', 'p50')} | {add('lat', 'p99')} "
            f"| {fmt(val('ttft', 'p50'), 3)} | {fmt(val('ttft', 'p99'), 3)} "
            f"| {add('ttft', 'p50')} | {add('ttft', 'p99')} "
            f"| {', '.join(f'{k}: {v}' for k, v in errors.items()) or '0'} |"
        )
    return out


def render(rows: list[Row], hold: dict[str, Any] | None, info: dict[str, Any]) -> str:
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    env = info["env"]
    lines = [
        f"# Proxy benchmark — {now}",
        "",
        f"Machine: {machine()}; {versions()}. Code: {git_rev(info['ref'])}. "
        f"Run took {info['took']:.0f} s; "
        f"CPU time stolen by the hypervisor meanwhile: {info['steal_s']:.2f} s.",
        f"One proxy process pinned to core {PROXY_CORE}; fake provider, load generator and "
        f"driver pinned to core {CLIENT_CORE}. Idle CPUs "
        + ("kept polling (--poll-idle)." if info["polling"] else "halt as usual."),
        "Loopback round trip core 0 ↔ core 1 (the floor of any added hop): "
        + "; ".join(f"{k} p50 {v['p50']:.3f} ms, p99 {v['p99']:.3f} ms" for k, v in env.items())
        + ".",
        "",
        "Latency and TTFT (ms) come from the paced phase: requests evenly spaced so that "
        "`concurrency` are in flight on average (non-stream: 100 ms upstream latency; stream: "
        "50 ms TTFT, then 10 content chunks 10 ms apart). `+` columns: proxied minus direct. "
        "max req/s: closed loop with no upstream delay. Proxy CPU: utime+stime of the proxy "
        "process per completed request, capacity phase / paced phase.",
        "",
        *main_table(rows),
        "",
        "## Targets",
        "",
        *targets(rows, hold, SETUPS[0].name),
        "",
        "## Serial requests (c=1, back to back, no upstream delay)",
        "",
        "The proxy's own critical-path latency with nothing queued: every microsecond here is "
        "the proxy's code, its two extra socket hops and the wake-ups they need.",
        "",
        *serial_lines(info["serial"]),
        "",
    ]
    if hold is not None:
        lines += [f"## {HOLD_STREAMS} concurrent open streams", "", *hold_lines(hold), ""]
    lines += [
        "## Diagnostics",
        "",
        "Capacity phase = closed loop, no upstream delay. A throughput figure means the proxy's "
        "capacity only when core 0 is the busy one; `bound by` says which core was saturated "
        "(≥ 90%). The paced phase is only valid when core 1 stays well below saturation and "
        "few sends are late. SSE events / reads: events per stream and socket reads carrying "
        "them at the client (paced phase); far fewer reads through the proxy than direct would "
        "mean the proxy holds chunks back.",
        "",
        *diagnostics_table(rows),
        "",
    ]
    return "\n".join(lines + problem_lines(info["problems"]))


if __name__ == "__main__":
    sys.exit(main())
