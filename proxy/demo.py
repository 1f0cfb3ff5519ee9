"""`rollout demo`: the proxy and the fake provider in one process, so that a newcomer can send a
request with curl or the openai SDK without any API key.

The demo's config and prompt ship inside the package (proxy/demo_files/, the repository's
config/demo.yaml), so `pip install llm-rollout && rollout demo` works from any directory. Its
state (weight, kill switch) lives in a fresh temporary directory unless `--data-dir` keeps it,
and the banner says what it starts from: a kill switch from yesterday's walkthrough never
silently carries over.
"""

from __future__ import annotations

import asyncio
import signal
from importlib.resources import as_file, files

from aiohttp import web

from proxy.fake_provider import build_app
from proxy.serve import install_uvloop, listen, start_proxy
from rollout.config import Config
from rollout.control.live_state import LiveState

DEMO_CONFIG = files("proxy") / "demo_files" / "demo.yaml"


def demo_config_path() -> str:
    """The packaged demo config as a file path (the package is installed as files)."""
    with as_file(DEMO_CONFIG) as path:
        return str(path)


def run_demo(config: Config, fake_port: int, config_path: str | None = None) -> None:
    install_uvloop()
    asyncio.run(_main(config, fake_port, config_path))


async def _main(config: Config, fake_port: int, config_path: str | None) -> None:
    fake = web.AppRunner(build_app(), access_log=None)
    await fake.setup()
    try:
        await listen(fake, "127.0.0.1", fake_port)
        proxy, runner = await start_proxy(config, config_path=config_path)  # edits reload
    except BaseException:
        await fake.cleanup()
        raise
    base = f"http://{config.listen.host}:{config.listen.port}"
    print(
        f"llm-rollout demo: proxy on {base} -> fake provider on 127.0.0.1:{fake_port}\n"
        f"  state in {config.store.data_dir}: {_states(proxy.runtime)}\n"
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


def _states(runtime: object) -> str:
    states: dict[str, LiveState] = getattr(runtime, "states", {}) or {}
    if not states:
        return "no rollouts"
    return "; ".join(f"{name}: {_state(state)}" for name, state in states.items())


def _state(state: LiveState) -> str:
    origin = "resumed" if state.from_store else "from the config"
    killed = ", KILLED (undo: the admin API with killed: false)" if state.killed else ""
    phase = f", phase {state.phase}" if state.phase else ""
    return f"{origin}, candidate weight {state.weight:.0%}{killed}{phase}"
