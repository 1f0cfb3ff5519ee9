"""Run the proxy in this process with cProfile switched on and off by signals, so that only the
measured phase is profiled (not start-up or warm-up). Used by `proxy_bench.py --profile`.

    python bench/profiled_proxy.py CONFIG.yaml OUT.prof
    SIGUSR1: start profiling; SIGUSR2: stop and write OUT.prof; SIGTERM/SIGINT: exit.
"""

from __future__ import annotations

import asyncio
import cProfile
import signal
import sys

from proxy.serve import install_uvloop, start_proxy
from rollout.config import load_config


async def main(config_path: str, out: str) -> None:
    config = load_config(config_path)
    proxy, runner = await start_proxy(config)
    profiler = cProfile.Profile()
    stopping = asyncio.Event()

    def stop_profiling() -> None:
        profiler.disable()
        profiler.dump_stats(out)

    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, profiler.enable)
    loop.add_signal_handler(signal.SIGUSR2, stop_profiling)
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()
    await runner.cleanup()
    await proxy.close()


if __name__ == "__main__":
    install_uvloop()
    asyncio.run(main(sys.argv[1], sys.argv[2]))
