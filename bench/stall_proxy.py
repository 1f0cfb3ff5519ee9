"""Run the proxy as `rollout serve` does (one worker) and count what stalls its event loop: the
cyclic GC's pauses (gc.callbacks) and loop lag (a task asking to wake every millisecond, and how
late it wakes). A summary goes to stderr at exit, one line starting with "stalls:".

    python bench/stall_proxy.py CONFIG.yaml      SIGTERM/SIGINT: exit, summary

Bench-only (shadow_bench.py --stalls): the lag probe itself costs a little CPU, so figures of a
run with it are diagnostics, not the benchmark's.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import sys
from collections import Counter
from time import perf_counter

from proxy.serve import install_uvloop, start_proxy
from rollout.config import load_config

LAG_STEPS_MS = (2, 5, 10, 20, 50)


class Stalls:
    def __init__(self) -> None:
        self.gc_ms: Counter[int] = Counter()  # generation -> total pause ms
        self.gc_count: Counter[int] = Counter()
        self.gc_max_ms = 0.0
        self.lags: Counter[int] = Counter()  # lower bound of the step -> wake-ups that late
        self.lag_max_ms = 0.0
        self._gc_start = 0.0

    def on_gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_start = perf_counter()
            return
        ms = (perf_counter() - self._gc_start) * 1000
        self.gc_ms[info["generation"]] += ms
        self.gc_count[info["generation"]] += 1
        self.gc_max_ms = max(self.gc_max_ms, ms)

    async def probe(self) -> None:
        while True:
            t0 = perf_counter()
            await asyncio.sleep(0.001)
            late = (perf_counter() - t0) * 1000 - 1.0
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


async def main(config_path: str) -> None:
    proxy, runner = await start_proxy(load_config(config_path))
    stalls = Stalls()
    gc.callbacks.append(stalls.on_gc)
    probe = asyncio.create_task(stalls.probe())
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()
    probe.cancel()
    print(stalls.summary(), file=sys.stderr, flush=True)
    await runner.cleanup()
    await proxy.close()


if __name__ == "__main__":
    install_uvloop()
    asyncio.run(main(sys.argv[1]))
