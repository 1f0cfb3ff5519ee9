"""The in-process half of bench/rules_bench.py, run in a child process on the proxy code being
benchmarked (PYTHONPATH), so that `--proxy-ref` measures that code, not the working tree's.

    python bench/rules_child.py N     # prints one JSON line

- load, build, reload: seconds (wall and process CPU) to load the config of N rules, build the
  proxy from it, and hot-reload it (median of 3 reloads, each a changed weight; the reloads run
  with the GC settings of a serving process, proxy/serve.py).
- rules_us: process CPU per request of the two stages whose work depends on the rules,
  identify and flags, on the benchmark's request (best of 7 batches: the least disturbed by
  other processes), minus the cost of making the request object.
"""

from __future__ import annotations

import asyncio
import gc
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
from multidict import CIMultiDict, CIMultiDictProxy
from rules_bench import TEAM, rules_config

from proxy.app import Proxy
from proxy.reload import ProxyReload
from rollout.config import load_config
from rollout.config.reloader import ConfigReloader

BODY = {"model": "gpt-4o-mini", "messages": [], "user": "bench-user-0001", "temperature": 0.2}
HEADERS = CIMultiDictProxy(
    CIMultiDict(
        [
            ("Host", "127.0.0.1"),
            ("Accept", "application/json"),
            ("Content-Type", "application/json"),
            ("User-Agent", "OpenAI/Python 1.40.0"),
            ("Authorization", "Bearer sk-bench-000000000000000000000000"),
            *((f"X-Stainless-{k}", "x") for k in ("Lang", "OS", "Arch", "Runtime", "Retry-Count")),
            ("x-fake-output-tokens", "10"),
            *TEAM.items(),
            ("Content-Length", "300"),
        ]
    )
)
BATCH = 2000


def timed(work: Any) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def exchange() -> SimpleNamespace:
    """What identify and flags read and write of an Exchange."""
    return SimpleNamespace(
        payload=dict(BODY), api="openai.chat", model="gpt-4o-mini", route_prefix="/v1",
        headers=HEADERS, subject=None, governing=None, rollout="", flags=[], forced_arm=None,
        flag_edits=[],
    )  # fmt: skip


async def rules_us(proxy: Proxy) -> float:
    stages = [s for s in proxy.generation.pipeline.before if s.name in ("identify", "flags")]

    async def batch(run_stages: bool) -> float:
        cpu = time.process_time()
        for _ in range(BATCH):
            ex = exchange()
            if run_stages:
                for stage in stages:
                    await stage(ex)  # type: ignore[arg-type]
        return time.process_time() - cpu

    ex = exchange()
    for stage in stages:
        await stage(ex)  # type: ignore[arg-type]
    assert ex.rollout == "applies" and ex.flags == ["applies"], (ex.rollout, ex.flags)
    full = min([await batch(True) for _ in range(7)])
    empty = min([await batch(False) for _ in range(7)])
    return (full - empty) / BATCH * 1e6


def measure(n: int, tmp: Path) -> dict[str, Any]:
    path, data = tmp / "rules.yaml", str(tmp / "data")
    path.write_text(orjson.dumps(rules_config(9, n, data)).decode())  # JSON is YAML
    config, load_wall, load_cpu = timed(lambda: load_config(path))
    proxy, build_wall, build_cpu = timed(lambda: Proxy(config, {}))

    async def run() -> dict[str, Any]:
        await proxy.start()
        gc.collect()  # as proxy/serve.py leaves a serving process
        gc.freeze()
        gc.set_threshold(100_000, 50, 100)
        reloader = ConfigReloader(path, proxy.config, ProxyReload(proxy, str(path)))
        walls, cpus = [], []
        for weight in (0.4, 0.5, 0.4):
            path.write_text(orjson.dumps(rules_config(9, n, data, weight)).decode())
            wall, cpu = time.perf_counter(), time.process_time()
            result = await reloader.reload("bench")
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
            assert result.ok and result.changes, result
        cost = await rules_us(proxy)
        await proxy.close()
        return {
            "reload": [statistics.median(walls), statistics.median(cpus)],
            "rules_us": cost,
        }

    return {"load": [load_wall, load_cpu], "build": [build_wall, build_cpu], **asyncio.run(run())}


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(measure(int(sys.argv[1]), Path(tmp))))
