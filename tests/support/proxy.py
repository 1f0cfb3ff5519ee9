"""Start the real proxy on loopback, in a thread, from a config given as YAML text."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from proxy.admin.server import build_admin_app
from proxy.app import Proxy
from rollout.config import Config, parse_config
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


def two_fakes_config(fake_url: str, other_url: str) -> str:
    """/v1 -> `fake` (OpenAI kind), /anthropic -> `claude` (the same fake, Anthropic kind), and a
    provider `other` of the OpenAI kind for traffic sent elsewhere. Append rollouts or flags."""
    return f"""
providers:
  fake: {{base_url: "{fake_url}/v1"}}
  other: {{base_url: "{other_url}/v1"}}
  claude: {{kind: anthropic, base_url: "{fake_url}"}}
routes:
  - {{prefix: /v1, provider: fake}}
  - {{prefix: /anthropic, provider: claude}}
"""


@dataclass
class ServedProxy:
    server: RunningServer
    proxy: Proxy
    admin_url: str

    @property
    def url(self) -> str:
        return self.server.url


@contextmanager
def serve_proxy(
    config_yaml: str,
    environ: Mapping[str, str] | None = None,
    base_dir: str | os.PathLike[str] = ".",
) -> Iterator[RunningServer]:
    """`base_dir` stands for the config file's directory: prompt files are read relative to it."""
    with serve_proxy_and_admin(config_yaml, environ, base_dir) as served:
        yield served.server


@contextmanager
def serve_proxy_and_admin(
    config_yaml: str,
    environ: Mapping[str, str] | None = None,
    base_dir: str | os.PathLike[str] = ".",
) -> Iterator[ServedProxy]:
    """The traffic port and the admin port, on one event loop as in production. Without a
    `store:` section the embedded store gets a fresh temporary data directory."""
    with tempfile.TemporaryDirectory(prefix="llmr-test-data-") as data_dir:
        config = _with_data_dir(parse_config(config_yaml, "test.yaml", base_dir=base_dir), data_dir)
        proxy = Proxy(config, environ or {})
        admin: dict[str, object] = {}

        async def start() -> object:
            await proxy.start()
            runner = web.AppRunner(build_admin_app(proxy, environ or {}), access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            admin["runner"], admin["port"] = runner, runner.addresses[0][1]
            return proxy.server()

        async def stop() -> None:
            await admin["runner"].cleanup()  # type: ignore[attr-defined]
            await proxy.close()

        with serve_in_thread(start, cleanup=stop) as server:
            yield ServedProxy(server, proxy, f"http://127.0.0.1:{admin['port']}")


def _with_data_dir(config: Config, data_dir: str) -> Config:
    if "data_dir" in config.store.model_fields_set:
        return config
    return config.model_copy(
        update={"store": config.store.model_copy(update={"data_dir": data_dir})}
    )


ADMIN_TOKEN = "test-admin-token"
# A rollout `r` at 50% (candidate model `cand`) and a flag `no-tools`, off until switched on.
ROLLOUT_AND_FLAG = """
flags:
  - name: no-tools
    enabled: false
    when: {tools: true}
    then: {deny: {message: "tools are off", status: 400}}
rollouts:
  - name: r
    weight: 0.5
    candidate: {model: cand}
"""


@contextmanager
def serve_rollout_and_flag(upstream_url: str) -> Iterator[ServedProxy]:
    """ROLLOUT_AND_FLAG in front of `upstream_url`, with changes allowed by ADMIN_TOKEN."""
    config = openai_config(upstream_url, ROLLOUT_AND_FLAG)
    with serve_proxy_and_admin(config, {"LLM_ROLLOUT_ADMIN_TOKEN": ADMIN_TOKEN}) as served:
        yield served


# Tokens with roles (LLM_ROLLOUT_ADMIN_TOKENS): name, role, secret.
VIEWER, OPERATOR, APPROVER = "v-secret", "o-secret", "a:secret"  # a token may hold colons
ROLE_TOKENS = f"watcher:viewer:{VIEWER},ops:operator:{OPERATOR},boss:approver:{APPROVER}"
# An automatic rollout `auto` the controller starts at once (1%) and then leaves alone for an
# hour (evaluation_interval), so people's actions are all that moves it in a test.
AUTOMATIC_ROLLOUT = """
rollouts:
  - name: auto
    candidate: {model: cand}
    plan: {automatic: true, evaluation_interval: 3600, approve_before: [25, 100]}
"""


@contextmanager
def serve_automatic_rollout(
    upstream_url: str, admin_host: str = "127.0.0.1"
) -> Iterator[ServedProxy]:
    """AUTOMATIC_ROLLOUT with ROLE_TOKENS; `admin_host` is what the config says the admin port
    is bound to (the test still binds loopback), e.g. 0.0.0.0 to make reads need a token."""
    config = openai_config(upstream_url, f"admin: {{host: '{admin_host}'}}\n{AUTOMATIC_ROLLOUT}")
    with serve_proxy_and_admin(config, {"LLM_ROLLOUT_ADMIN_TOKENS": ROLE_TOKENS}) as served:
        yield served


def admin_request(
    served: ServedProxy, path: str, body: Any = None, token: str | None = None
) -> tuple[int, Any]:
    """GET (no body) or POST `body` to the admin port; the status and the JSON answer."""

    async def call() -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                "GET" if body is None else "POST",
                served.admin_url + path,
                json=body,
                headers=headers,
            ) as response,
        ):
            return response.status, await response.json(content_type=None)

    return served.server.call(call)  # type: ignore[return-value]


def cli_environment(monkeypatch: Any, served: ServedProxy, token: str) -> Any:
    """Point the `rollout` admin commands at `served` with `token`, as user alice."""
    monkeypatch.setenv("LLM_ROLLOUT_ADMIN_URL", served.admin_url)
    monkeypatch.setenv("LLM_ROLLOUT_ADMIN_TOKEN", token)
    monkeypatch.setenv("USER", "alice")
    return monkeypatch
