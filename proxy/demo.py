"""`rollout demo`: the proxy and the fake provider in one process, so that a newcomer can send a
request with curl or the openai SDK without any API key."""

from __future__ import annotations

import asyncio
import signal

from aiohttp import web

from proxy.fake_provider import build_app
from proxy.serve import install_uvloop, start_proxy
from rollout.config import Config


def run_demo(config: Config, fake_port: int, config_path: str | None = None) -> None:
    install_uvloop()
    asyncio.run(_main(config, fake_port, config_path))


async def _main(config: Config, fake_port: int, config_path: str | None) -> None:
    fake = web.AppRunner(build_app(), access_log=None)
    await fake.setup()
    await web.TCPSite(fake, "127.0.0.1", fake_port).start()
    proxy, runner = await start_proxy(config, config_path=config_path)  # edits reload
    base = f"http://{config.listen.host}:{config.listen.port}"
    print(
        f"llm-rollout demo: proxy on {base} -> fake provider on 127.0.0.1:{fake_port}\n"
        f"  curl {base}/v1/chat/completions -H 'content-type: application/json' "
        '-d \'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}\'',
        flush=True,
    )
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()
    await runner.cleanup()
    await proxy.close()
    await fake.cleanup()
