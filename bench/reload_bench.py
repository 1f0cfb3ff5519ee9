"""What a config hot reload costs: how long one takes, and how long it blocks the event loop
that serves requests (docs/reload.md). In one process, embedded store, no traffic.

    python bench/reload_bench.py                          # 20 rollouts, 50 flags, 50 reloads
    python bench/reload_bench.py --rollouts 200 --flags 500

Each reload loads the file (in a thread, as the proxy does), validates it, compiles the rollouts
and flags, reads every rollout's state from the store and swaps the generation in. A ticker
task sleeping 1 ms measures the loop's worst lateness meanwhile (what a request arriving during
a reload could wait at most), and the same without a reload (what the machine adds by itself).
Prints figures; never fails.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path

from proxy.app import Proxy
from proxy.reload import ProxyReload
from rollout.config import load_config
from rollout.config.reloader import ConfigReloader


def config_text(rollouts: int, flags: int, data_dir: str, weight: float) -> str:
    lines = [
        "providers: {p: {base_url: 'http://127.0.0.1:9/v1'}}",
        "routes: [{prefix: /v1, provider: p}]",
        f"store: {{data_dir: '{data_dir}'}}",
        "rollouts:",
    ]
    lines += [
        f"  - {{name: r{i}, weight: {weight}, models: ['m{i}-*'], candidate: {{model: c{i}}}}}"
        for i in range(rollouts)
    ]
    lines.append("flags:")
    cap = "then: {cap: {max_tokens: 99}}"
    lines += [
        f"  - {{name: f{i}, when: {{headers: {{x-tier: t{i}}}}}, {cap}}}" for i in range(flags)
    ]
    return "\n".join(lines) + "\n"


async def worst_stall(work: Awaitable[object]) -> float:
    """The loop's worst lateness on a 1 ms sleep while `work` runs."""
    lateness: list[float] = [0.0]
    stop = asyncio.Event()

    async def tick() -> None:
        while not stop.is_set():
            start = time.perf_counter()
            await asyncio.sleep(0.001)
            lateness.append(time.perf_counter() - start - 0.001)

    ticker = asyncio.create_task(tick())
    result = await work
    assert getattr(result, "ok", True), result
    stop.set()
    await ticker
    return max(lateness)


async def run(rollouts: int, flags: int, reloads: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.yaml"
        path.write_text(config_text(rollouts, flags, tmp + "/data", 0.1))
        proxy = Proxy(load_config(path), {})
        await proxy.start()
        reloader = ConfigReloader(path, proxy.config, ProxyReload(proxy, str(path)))
        durations, stalls, idle = [], [], []
        for i in range(reloads):
            # The same look at the loop with no reload: what the machine itself adds.
            idle.append(await worst_stall(asyncio.sleep(0.07)))
            path.write_text(config_text(rollouts, flags, tmp + "/data", 0.2 if i % 2 else 0.3))
            start = time.perf_counter()
            stalls.append(await worst_stall(reloader.reload("bench")))
            durations.append(time.perf_counter() - start)
        await proxy.close()
    print(
        f"config: {rollouts} rollouts, {flags} flags; {reloads} reloads (each one weight changed)"
    )
    rows = (
        ("reload, end to end", durations),
        ("loop stall, reload", stalls),
        ("loop stall, idle", idle),
    )
    for name, values in rows:
        values.sort()
        p50, p99 = statistics.median(values), values[int(0.99 * (len(values) - 1))]
        ms = f"p50 {p50 * 1e3:7.2f} ms   p99 {p99 * 1e3:7.2f} ms   max {values[-1] * 1e3:7.2f} ms"
        print(f"  {name:20s} {ms}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rollouts", type=int, default=20)
    parser.add_argument("--flags", type=int, default=50)
    parser.add_argument("--reloads", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(run(args.rollouts, args.flags, args.reloads))


if __name__ == "__main__":
    main()
