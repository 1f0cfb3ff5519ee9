"""ProxyReload on a proxy in this process: which upstream sessions a reload keeps, opens and
closes, and what it refuses before changing anything."""

from __future__ import annotations

import pytest

from proxy.app import Proxy
from proxy.reload import ProxyReload
from rollout.config import parse_config
from rollout.errors import ConfigError
from tests.support.until import until


def _config(providers: str, tail: str = "") -> str:
    return f"providers:\n{providers}routes:\n  - {{prefix: /v1, provider: a}}\n{tail}"


A = "  a: {base_url: 'http://127.0.0.1:9/v1'}\n"
B = "  b: {base_url: 'http://127.0.0.1:9/v1', timeouts: {total: 0.2}}\n"
C = "  c: {base_url: 'http://127.0.0.1:9/v1'}\n"


async def test_sessions_are_kept_opened_and_closed_after_their_drain() -> None:
    proxy = Proxy(parse_config(_config(A + B + C)), {})
    await proxy.start()
    before = dict(proxy.upstreams)
    reload = ProxyReload(proxy, "c.yaml", drain_margin=0.0)
    try:
        changed_c = C.replace("127.0.0.1:9", "127.0.0.1:10")
        await reload(parse_config(_config(A + changed_c)))
        assert proxy.upstreams["a"] is before["a"]  # unchanged: same pool
        assert proxy.upstreams["c"] is not before["c"] and not proxy.upstreams["c"].session.closed
        assert proxy.generation.config.providers.keys() == {"a", "c"}
        # `b` is gone: closed once a request on it would have timed out (total 0.2 s).
        await until(lambda: before["b"].session.closed, 5)
        assert not before["c"].session.closed  # 600 s to go: closed at shutdown instead
        await reload.close()
        assert before["c"].session.closed
    finally:
        await proxy.close()


@pytest.mark.parametrize(
    ("providers", "tail", "problem"),
    [
        (
            A,
            "rollouts: [{name: r, candidate: {model: m}}]\n",
            "c.yaml: rollouts: the first rollout or flag needs a restart (this proxy started"
            " without any, so it opened no store)",
        ),
        (
            A.replace("}", ", api_key_env: KEY}"),
            "",
            "c.yaml: providers: environment variable KEY is not set",
        ),
    ],
    ids=["first-rollout", "credentials"],
)
async def test_refused_before_anything_changes(providers: str, tail: str, problem: str) -> None:
    proxy = Proxy(parse_config(_config(A)), {})
    await proxy.start()
    generation, upstreams = proxy.generation, proxy.upstreams
    try:
        with pytest.raises(ConfigError) as info:
            await ProxyReload(proxy, "c.yaml")(parse_config(_config(providers, tail)))
        assert str(info.value) == problem
        assert (proxy.generation, proxy.upstreams) == (generation, upstreams)
    finally:
        await proxy.close()
