"""Start the real proxy on loopback, in a thread, from a config given as YAML text."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from proxy.app import Proxy
from rollout.config import parse_config
from tests.support.servers import RunningServer, serve_in_thread


def openai_config(upstream_url: str, extra: str = "", provider: str = "") -> str:
    """A one-provider config: /v1 -> upstream_url/v1 (OpenAI kind), with optional YAML extras."""
    return f"""
providers:
  up:
    base_url: {upstream_url}/v1
{provider}
routes:
  - {{prefix: /v1, provider: up}}
{extra}
"""


@contextmanager
def serve_proxy(
    config_yaml: str, environ: Mapping[str, str] | None = None
) -> Iterator[RunningServer]:
    proxy = Proxy(parse_config(config_yaml, "test.yaml"), environ or {})

    async def start() -> object:
        await proxy.start()
        return proxy.server()

    with serve_in_thread(start, cleanup=proxy.close) as server:
        yield server
