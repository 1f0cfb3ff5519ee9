"""Prometheus' token for /metrics through the chart. The chart binds the admin port to 0.0.0.0,
where reads need a viewer token (proxy/admin/auth.py): the pods must accept
metrics.tokenSecret's token as the viewer `prometheus`, and every ServiceMonitor must send the
same Secret's key.

The real check builds each admin port (the proxy's, the controller's) from what the chart
renders: the config from the ConfigMap volume, the environment resolved as the kubelet
resolves the container's `env` (Secrets, then `$(VAR)` references), against a real Redis. It is
served on loopback — binding 0.0.0.0 is not allowed in tests, and every 127.0.0.0/8 address
counts as loopback — but its token rules are the config's, whose admin host is 0.0.0.0."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from proxy.admin.auth import Role, load_tokens
from proxy.admin.controller import ControllerConfig, build_controller_admin_app
from proxy.admin.server import build_admin_app
from proxy.app import Proxy
from rollout.config import Config, load_config
from rollout.control.controller import Controller
from rollout.store.from_config import open_configured_store
from tests.support.configmap_volume import ConfigMapVolume
from tests.support.helm_chart import (
    FULLNAME,
    PRODUCTION,
    Objects,
    container,
    kinds,
    projected_files,
    render_chart,
    render_templates,
)
from tests.support.pod_env import container_environ, expand
from tests.support.prometheus_server import PrometheusServer
from tests.support.redis_server import RedisServer
from tests.support.servers import on_loopback
from tests.support.until import until

METRICS_TOKEN, ADMIN_TOKEN = "m3trics-t0ken", "adm1n-t0ken"
CONTROLLER = f"{FULLNAME}-controller"
# PRODUCTION's proxy without rollouts: no background task then talks to Redis, so closing it
# cannot race one (redis-py can swallow a cancellation that lands mid-command; reported apart).
NO_ROLLOUTS: dict[str, Any] = {
    **PRODUCTION,
    "controller": {"enabled": False},
    "config": {**PRODUCTION["config"], "rollouts": []},
}


def secrets(redis_url: str) -> dict[str, dict[str, str]]:
    """The Secrets PRODUCTION names, as the operator would create them."""
    return {
        "redis-credentials": {"redis-url": redis_url},
        "admin-token": {"token": ADMIN_TOKEN},
        "metrics-token": {"scrape": METRICS_TOKEN},
        "keys": {"openai": "sk-test", "ANTHROPIC_API_KEY": "sk-ant-test"},
    }


@pytest.fixture(scope="module")
def production() -> Objects:
    return kinds(render_chart(PRODUCTION))


def mounted_config(objects: Objects, mount: Path) -> Config:
    """The config as the pods load it from the ConfigMap volume."""
    ConfigMapVolume(mount).write(projected_files(objects))
    return load_config(mount / "config.yaml")


@pytest.mark.parametrize(
    ("value", "expanded"),
    [
        ("a:$(T)", "a:tok"),
        ("$(LATER)", "$(LATER)"),  # not defined before: left as written
        ("$$(T)", "$(T)"),  # escaped
        ("$(T", "$(T"),
    ],
)
def test_references_expand_as_the_kubelet_expands_them(value: str, expanded: str) -> None:
    assert expand(value, {"T": "tok"}) == expanded


@pytest.mark.parametrize("deployment", [FULLNAME, CONTROLLER])
def test_the_pods_accept_the_metrics_token_as_the_viewer_prometheus(
    production: Objects, deployment: str, tmp_path: Path
) -> None:
    admin = mounted_config(production, tmp_path).admin
    assert admin.host == "0.0.0.0"  # off loopback: /metrics needs a viewer token
    environ = container_environ(container(production, deployment), secrets("redis://r:6379/0"))
    tokens = load_tokens(environ, admin.token_env, admin.tokens_env)
    assert [(t.name, t.role, t.secret) for t in tokens] == [
        ("admin", Role.approver, ADMIN_TOKEN.encode()),
        ("prometheus", Role.viewer, METRICS_TOKEN.encode()),
    ]


def test_every_service_monitor_sends_the_secret_the_pods_read(production: Objects) -> None:
    proxy_env = {e["name"]: e for e in container(production, FULLNAME)["env"]}
    pods_read = proxy_env["LLM_ROLLOUT_METRICS_TOKEN"]["valueFrom"]["secretKeyRef"]
    assert pods_read == {"name": "metrics-token", "key": "scrape"}
    assert sorted(production["ServiceMonitor"]) == [FULLNAME, CONTROLLER]
    for monitor in production["ServiceMonitor"].values():
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint["authorization"] == {"type": "Bearer", "credentials": pods_read}


def test_without_a_metrics_token_the_pods_have_no_viewer_and_notes_say_so() -> None:
    objects = kinds(render_chart({"adminToken": {"existingSecret": "admin-token"}}))
    assert "LLM_ROLLOUT_ADMIN_TOKENS" not in str(container(objects, FULLNAME)["env"])
    notes = render_templates()["llm-rollout/templates/NOTES.txt"]
    assert "refused to every scraper (401/403) until metrics.tokenSecret.name" in notes
    notes = render_templates(PRODUCTION)["llm-rollout/templates/NOTES.txt"]
    assert "with the bearer token of the Secret metrics-token (key scrape)" in notes


Served = Callable[[Path, RedisServer], AbstractAsyncContextManager[str]]


def rendered_pod(
    values: dict[str, Any], deployment: str, mount: Path, redis: RedisServer
) -> tuple[Config, dict[str, str]]:
    """What a pod of `deployment` runs with: the config it mounts, the environment it gets."""
    objects = kinds(render_chart(values))
    environ = container_environ(container(objects, deployment), secrets(redis.url))
    return mounted_config(objects, mount), environ


@asynccontextmanager
async def proxy_admin(mount: Path, redis: RedisServer) -> AsyncIterator[str]:
    """`rollout serve`'s admin port, as the proxy pod builds it."""
    config, environ = rendered_pod(NO_ROLLOUTS, FULLNAME, mount, redis)
    proxy = Proxy(config, environ)
    await proxy.start()
    try:
        async with on_loopback(build_admin_app(proxy, environ)) as url:
            yield url
    finally:
        await proxy.close()


@asynccontextmanager
async def controller_admin(mount: Path, redis: RedisServer) -> AsyncIterator[str]:
    """`rollout controller`'s admin port, as the controller pod builds it."""
    config, environ = rendered_pod(PRODUCTION, CONTROLLER, mount, redis)
    store = open_configured_store(config.store, environ)
    live = ControllerConfig(Controller(store, config.rollouts), str(mount / "config.yaml"), config)
    app = build_controller_admin_app(store, live, config.admin, environ)
    try:
        async with on_loopback(app) as url:
            yield url
    finally:
        await store.close()


async def get_metrics(url: str, token: str | None) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as http,
        http.get(url + "/metrics", headers=headers) as response,
    ):
        return response.status, await response.text()


@pytest.mark.parametrize("served", [proxy_admin, controller_admin], ids=["proxy", "controller"])
async def test_the_rendered_pods_serve_metrics_to_the_prometheus_token(
    tmp_path: Path, own_redis: RedisServer, served: Served
) -> None:
    async with served(tmp_path, own_redis) as url:
        status, body = await get_metrics(url, METRICS_TOKEN)
        assert status == 200, body
        assert "# TYPE llm_rollout_" in body
        assert (await get_metrics(url, ADMIN_TOKEN))[0] == 200
        assert (await get_metrics(url, None))[0] == 401
        assert (await get_metrics(url, "not-the-token"))[0] == 401


async def test_the_prometheus_token_reads_but_never_changes(
    tmp_path: Path, own_redis: RedisServer
) -> None:
    async with (
        controller_admin(tmp_path, own_redis) as url,
        aiohttp.ClientSession() as http,
        http.post(
            url + "/v1/config/reload", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
        ) as response,
    ):
        assert response.status == 403
        refusal = await response.json()
    assert (
        refusal["error"]["message"] == "token 'prometheus' has the role viewer: this needs operator"
    )


async def test_a_real_prometheus_scrapes_with_the_secret_the_service_monitor_names(
    production: Objects, tmp_path: Path, own_redis: RedisServer
) -> None:
    """Prometheus sends what the ServiceMonitor's `authorization` names, as the Operator has it
    do; the same Prometheus without it is refused."""
    (endpoint,) = production["ServiceMonitor"][FULLNAME]["spec"]["endpoints"]
    credentials = endpoint["authorization"]["credentials"]
    token = secrets(own_redis.url)[credentials["name"]][credentials["key"]]
    jobs = {"service-monitor": token, "no-token": None}
    async with proxy_admin(tmp_path, own_redis) as url:
        prometheus = PrometheusServer([url.removeprefix("http://")], jobs=jobs)
        await asyncio.to_thread(prometheus.start)  # the admin port answers meanwhile
        try:

            async def both_scraped() -> bool:
                targets = await asyncio.to_thread(prometheus.api, "targets")
                health = [t["health"] for t in targets["activeTargets"]]
                return len(health) == len(jobs) and "unknown" not in health

            await until(both_scraped, seconds=15)
            targets = (await asyncio.to_thread(prometheus.api, "targets"))["activeTargets"]
        finally:
            await asyncio.to_thread(prometheus.close)
    health = {t["labels"]["job"]: (t["health"], t["lastError"]) for t in targets}
    assert health == {
        "service-monitor": ("up", ""),
        "no-token": ("down", "server returned HTTP status 401 Unauthorized"),
    }
