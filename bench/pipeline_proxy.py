"""Run the proxy with observation on or off, to measure what observing costs (observe_cost.py).

    python bench/pipeline_proxy.py CONFIG.yaml --observe on|off     SIGTERM/SIGINT: exit

`on` is exactly what `rollout serve` runs (one worker). `off` is the same proxy minus the
Observe and Conclude stages: no side parser on the response, no usage requested on streams, no
refusal, JSON or cost verdicts; Record still counts requests, errors and durations. Bench-only:
observation is not something production should switch off, so there is no config knob for it.
Both settings run through this launcher so that they differ in nothing else.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from proxy.pipeline import Pipeline
from proxy.serve import install_uvloop, start_proxy
from proxy.stages.observe import Conclude, Observe
from rollout.config import load_config


def without_observation(pipeline: Pipeline) -> Pipeline:
    """The same stages (whatever the config built) minus Observe and Conclude."""
    return Pipeline(
        before=[s for s in pipeline.before if not isinstance(s, Observe)],
        forward=pipeline.forward,
        after=[s for s in pipeline.after if not isinstance(s, Conclude)],
    )


async def main(config_path: str, observe: bool) -> None:
    proxy, runner = await start_proxy(load_config(config_path))
    if not observe:
        # Swapped before the first request: the handler reads proxy.pipeline per request.
        proxy.pipeline = without_observation(proxy.pipeline)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()
    await runner.cleanup()
    await proxy.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("--observe", choices=["on", "off"], required=True)
    args = parser.parse_args()
    install_uvloop()
    asyncio.run(main(args.config, args.observe == "on"))
