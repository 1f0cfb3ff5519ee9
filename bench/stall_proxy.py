"""Run the proxy as `rollout serve` does (one worker) and count what stalls its event loop: the
cyclic GC's pauses (gc.callbacks) and loop lag (a task asking to wake every millisecond, and how
late it wakes). A summary goes to stderr at exit, one line starting with "stalls:".

    python bench/stall_proxy.py CONFIG.yaml [--stacks FILE]   SIGTERM/SIGINT: exit, summary
    python bench/stall_proxy.py --report FILE                  what FILE says, summed up

With --stacks, a watchdog thread samples the main thread's stack (sys._current_frames) every
millisecond while the probe has not woken for STACK_AFTER_MS, and each wake-up late by
STACK_MIN_MS or more is written to FILE as a JSON line: how late, the main thread's CPU time and
run-queue wait (/proc schedstat) over the same interval, the process's CPU time, and the stacks
sampled meanwhile. A late wake-up during which the main thread used little CPU was not a callback
holding the loop: the thread was not running (preempted by the OS, or waiting for the GIL).
The watchdog samples when it gets the GIL: at once while the loop waits in epoll, after up to
sys.getswitchinterval() (5 ms) while Python code holds it.

Bench-only (shadow_bench.py --stalls): the lag probe itself costs a little CPU, so figures of a
run with it are diagnostics, not the benchmark's.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import signal
import sys
import threading
import time
from collections import Counter, deque
from pathlib import Path
from time import perf_counter

LAG_STEPS_MS = (2, 5, 10, 20, 50)
STACK_AFTER_MS = 3.0  # the watchdog samples once the probe is this late (its 1 ms sleep aside)
STACK_MIN_MS = 5.0  # wake-ups at least this late are written to the --stacks file
STACK_DEPTH = 14  # innermost frames kept per sample
ROOT = str(Path(__file__).resolve().parent.parent) + os.sep


class Stalls:
    def __init__(self) -> None:
        self.gc_ms: Counter[int] = Counter()  # generation -> total pause ms
        self.gc_count: Counter[int] = Counter()
        self.gc_max_ms = 0.0
        self.lags: Counter[int] = Counter()  # lower bound of the step -> wake-ups that late
        self.lag_max_ms = 0.0
        self._gc_start = 0.0
        self.sampler: Sampler | None = None

    def on_gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_start = perf_counter()
            return
        ms = (perf_counter() - self._gc_start) * 1000
        self.gc_ms[info["generation"]] += ms
        self.gc_count[info["generation"]] += 1
        self.gc_max_ms = max(self.gc_max_ms, ms)

    async def probe(self) -> None:
        sampler = self.sampler
        while True:
            t0 = perf_counter()
            if sampler is not None:
                sampler.ticked(t0)
            await asyncio.sleep(0.001)
            woke = perf_counter()
            late = (woke - t0) * 1000 - 1.0
            if sampler is not None:
                sampler.woke(woke, late)
            self.lag_max_ms = max(self.lag_max_ms, late)
            for step in LAG_STEPS_MS:
                if late >= step:
                    self.lags[step] += 1

    def summary(self) -> str:
        gcs = ", ".join(
            f"gen{g} {self.gc_count[g]}x {self.gc_ms[g]:.0f} ms" for g in sorted(self.gc_count)
        )
        lags = ", ".join(f">={s} ms {self.lags[s]}" for s in LAG_STEPS_MS)
        return (
            f"stalls: gc {gcs or 'none'} (longest {self.gc_max_ms:.1f} ms); loop wake-ups late "
            f"{lags} (latest {self.lag_max_ms:.1f} ms)"
        )


def _schedstat(fd: int) -> tuple[float, float]:
    """(CPU ms, run-queue wait ms) so far of the thread whose /proc schedstat `fd` is open. Read
    by the thread itself, the wait is exact, the CPU time may lack the current slice."""
    run, wait, _ = os.pread(fd, 100, 0).split()
    return int(run) / 1e6, int(wait) / 1e6


def _steal_ticks(cpus: set[int]) -> int:
    """Time the hypervisor ran something else while these CPUs' guest wanted them (USER_HZ)."""
    total = 0
    with open("/proc/stat") as f:
        for line in f:
            name, *fields = line.split()
            if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
                total += int(fields[7])
    return total


def _frames(frame, depth: int = STACK_DEPTH) -> list[str]:  # type: ignore[no-untyped-def]
    out = []
    while frame is not None and len(out) < depth:
        code = frame.f_code
        name = code.co_filename.removeprefix(ROOT)
        if "site-packages/" in name:
            name = name.split("site-packages/", 1)[1]
        out.append(f"{name}:{frame.f_lineno} {code.co_name}")
        frame = frame.f_back
    return out


class Sampler(threading.Thread):
    """The watchdog of --stacks (see the module's docstring)."""

    def __init__(self, path: Path) -> None:
        super().__init__(name="stall-sampler", daemon=True)
        self.out = path.open("w")
        self.main = threading.main_thread().ident
        tid = threading.get_native_id()  # the loop's thread: this runs on it
        self.fd = os.open(f"/proc/self/task/{tid}/schedstat", os.O_RDONLY)
        self.last_tick = perf_counter()
        self.samples: list[tuple[float, list[str], list[str]]] = []
        self.written = 0
        self._t0 = (0.0, 0.0, 0.0, 0.0)  # at the last tick: time, thread CPU, wait, process CPU
        self.cpus = os.sched_getaffinity(0)
        self.steal: deque[tuple[float, int]] = deque(maxlen=8)  # (time, steal ticks) every 50 ms

    def ticked(self, now: float) -> None:
        self.last_tick = now  # first: what follows releases the GIL to the watchdog
        self.samples = []
        _, wait = _schedstat(self.fd)
        self._t0 = (now, time.thread_time() * 1000, wait, time.process_time() * 1000)

    def woke(self, now: float, late_ms: float) -> None:
        self.last_tick = now
        samples = self.samples
        if late_ms < STACK_MIN_MS:
            return
        cpu, proc = time.thread_time() * 1000, time.process_time() * 1000
        _, wait = _schedstat(self.fd)
        t0, cpu0, wait0, proc0 = self._t0
        record = {
            "at": round(time.time(), 3),
            "late_ms": round(late_ms, 2),
            "cpu_ms": round(cpu - cpu0, 2),  # the loop's thread
            "runq_ms": round(wait - wait0, 2),  # runnable but not running (other threads, OS)
            "proc_cpu_ms": round(proc - proc0, 2),  # every thread
            "gc": gc.get_count()[0],
            # Hypervisor steal on the CPUs we may run on, from a reading 0-50 ms before the
            # last tick to now, in ms (10 ms ticks: a rough hint only).
            "steal_ms": self._steal_since(t0),
            "samples": [
                {"ms": round((t - t0) * 1000, 1), "stack": stack, "others": others}
                for t, stack, others in samples
                if t0 <= t <= now
            ],
        }
        self.out.write(json.dumps(record) + "\n")
        self.written += 1
        if self.written % 20 == 0:
            self.out.flush()

    def _steal_since(self, t0: float) -> float | None:
        before = [ticks for t, ticks in self.steal if t <= t0]
        if not before:
            return None
        return (_steal_ticks(self.cpus) - before[-1]) * 1000 / os.sysconf("SC_CLK_TCK")

    def run(self) -> None:
        while True:
            time.sleep(0.001)
            now = perf_counter()
            if not self.steal or now - self.steal[-1][0] >= 0.05:
                self.steal.append((now, _steal_ticks(self.cpus)))
            if (now - self.last_tick) * 1000 < STACK_AFTER_MS + 1.0:
                continue
            frames = sys._current_frames()
            main = frames.pop(self.main, None)
            frames.pop(self.ident, None)
            if main is not None:  # and the innermost frame of each other thread
                others = [_frames(f, 1)[0] for f in frames.values()]
                self.samples.append((now, _frames(main), others))


async def main(config_path: str, stacks: Path | None) -> None:
    from proxy.serve import start_proxy
    from rollout.config import load_config

    proxy, runner = await start_proxy(load_config(config_path))
    stalls = Stalls()
    gc.callbacks.append(stalls.on_gc)
    if stacks is not None:
        stalls.sampler = Sampler(stacks)
        stalls.sampler.start()
    probe = asyncio.create_task(stalls.probe())
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()
    probe.cancel()
    print(stalls.summary(), file=sys.stderr, flush=True)
    if stalls.sampler is not None:
        stalls.sampler.out.close()
    await runner.cleanup()
    await proxy.close()


def _culprit(stack: list[str]) -> str:
    """The innermost frame of the project's code (proxy/, rollout/), else the innermost one."""
    for frame in stack:
        if frame.startswith(("proxy/", "rollout/")):
            return frame
    return stack[0] if stack else "?"


def report(path: Path, min_ms: float = 10.0) -> str:
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    big = [r for r in records if r["late_ms"] >= min_ms]
    lines = [f"{len(records)} wake-ups late >= {STACK_MIN_MS:g} ms, {len(big)} >= {min_ms:g} ms"]
    if not big:
        return "\n".join(lines)
    late = sum(r["late_ms"] for r in big)
    for key, label in (("cpu_ms", "the loop's thread on CPU"), ("runq_ms", "run-queue wait")):
        lines.append(f"  {label}: {sum(r[key] for r in big) / late:.0%} of their lateness")
    busy = [r for r in big if r["cpu_ms"] >= 0.5 * r["late_ms"]]
    lines.append(f"  held by the loop's thread (CPU >= half the lateness): {len(busy)}")
    queued = [r for r in big if r["runq_ms"] >= 0.5 * r["late_ms"]]
    lines.append(f"  waiting for a CPU (run-queue wait >= half the lateness): {len(queued)}")
    stolen = [r for r in big if (r.get("steal_ms") or 0) > 0]
    lines.append(f"  with hypervisor steal counted around them: {len(stolen)}")
    lines.append("  the latest (late ms: loop thread CPU / run-queue wait / steal; where sampled):")
    for r in sorted(big, key=lambda r: -r["late_ms"])[:12]:
        where_ = sorted({_culprit(s["stack"]) for s in r["samples"]}) or ["no sample"]
        lines.append(
            f"    {r['late_ms']:5.1f}: {r['cpu_ms']:.1f} / {r['runq_ms']:.1f} / "
            f"{r.get('steal_ms')}; {', '.join(where_)}"
        )
    where: Counter[str] = Counter()
    inner: Counter[str] = Counter()
    for r in big:
        for stack in {_culprit(s["stack"]) for s in r["samples"]}:
            where[stack] += 1
        for s in r["samples"]:
            inner[s["stack"][0] if s["stack"] else "?"] += 1
    lines.append(f"  sampled in (project frame; wake-ups >= {min_ms:g} ms with a sample there):")
    lines += [f"    {n:4d}  {k}" for k, n in where.most_common(15)]
    lines.append("  innermost frames (samples):")
    lines += [f"    {n:4d}  {k}" for k, n in inner.most_common(15)]
    others = Counter(o for r in big for s in r["samples"] for o in s.get("others", ()))
    lines.append("  other threads' innermost frames meanwhile (samples):")
    lines += [f"    {n:4d}  {k}" for k, n in others.most_common(8)]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?")
    parser.add_argument("--stacks", type=Path, help="write the late wake-ups' stacks here")
    parser.add_argument("--report", type=Path, help="sum up a --stacks file, and exit")
    parser.add_argument("--min-ms", type=float, default=10.0, help="--report: from this late")
    args = parser.parse_args()
    if args.report:
        print(report(args.report, args.min_ms))
        sys.exit(0)
    from proxy.serve import install_uvloop

    install_uvloop()
    asyncio.run(main(args.config, args.stacks))
