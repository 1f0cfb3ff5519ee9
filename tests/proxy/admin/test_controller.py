"""The standalone `rollout controller` process's admin port: its metrics scraped from a real
process (and accepted by promtool), readiness following the store, config reloads through
`rollout reload`; and the token rules when the port is bound off loopback."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from proxy.admin.controller import ControllerConfig, build_controller_admin_app
from rollout.cli.main import main
from rollout.config import load_config
from rollout.control.controller import Controller
from rollout.store import open_store
from tests.support.controller_process import (
    ControllerProcess,
    controller_config,
    controller_process,
)
from tests.support.proxy_process import http_status, metric_sum, scrape
from tests.support.redis_server import RedisServer

OPERATOR, VIEWER = "op-secret", "view-secret"
TOKENS = {"LLM_ROLLOUT_ADMIN_TOKENS": f"ops:operator:{OPERATOR},eyes:viewer:{VIEWER}"}


@pytest.fixture
def controller(own_redis: RedisServer, tmp_path: Path) -> Iterator[ControllerProcess]:
    path = tmp_path / "c.yaml"
    path.write_text(controller_config(own_redis.url, f"t{uuid.uuid4().hex[:10]}:"))
    with controller_process(path, tmp_path, env=TOKENS) as proc:
        yield proc


def wait_for(check: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_metrics_of_a_real_controller_process(controller: ControllerProcess) -> None:
    ramping = {"rollout": "r", "phase": "ramping"}
    wait_for(lambda: metric_sum(scrape(controller.admin_url), "llm_rollout_phase", **ramping) == 1)
    text = scrape(controller.admin_url)  # open: the port is on loopback
    assert metric_sum(text, "llm_rollout_phase", rollout="r", phase="pending") == 0
    assert metric_sum(text, "llm_rollout_decisions_total", rollout="r", action="promote") == 1
    error_rate = {"rollout": "r", "gate": "error_rate", "status": "no_data"}
    wait_for(
        lambda: (
            metric_sum(scrape(controller.admin_url), "llm_rollout_gate_status", **error_rate) == 1
        )
    )
    assert metric_sum(text, "llm_rollout_config_info") == 1
    assert metric_sum(text, "llm_rollout_config_last_reload_success_timestamp_seconds") > 0
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: install Debian's prometheus package (bash .ci/test does)"
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_ready_while_the_store_answers(
    controller: ControllerProcess, own_redis: RedisServer
) -> None:
    ready = controller.admin_url + "/readyz"
    assert http_status(ready) == 200
    own_redis.kill()
    wait_for(lambda: http_status(ready) == 503)
    assert http_status(controller.admin_url + "/healthz") == 200  # alive all the same
    own_redis.start()
    wait_for(lambda: http_status(ready) == 200)


def test_rollout_reload_against_the_controller(
    controller: ControllerProcess,
    own_redis: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    prefix = load_config(controller.config).store.key_prefix
    monkeypatch.setenv("LLM_ROLLOUT_ADMIN_URL", controller.admin_url)
    monkeypatch.setenv("LLM_ROLLOUT_ADMIN_TOKEN", OPERATOR)
    controller.config.write_text(controller_config(own_redis.url, prefix, ", stages: [1, 50, 100]"))
    assert main(["reload"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("config reloaded (config ")
    assert "  rollout r: plan changed (stages 1,5,25,50,100 -> 1,50,100)\n" in out
    assert main(["reload"]) == 0
    assert capsys.readouterr().out.startswith("config unchanged: the file says what already runs")

    controller.config.write_text(controller_config(own_redis.url, prefix, ", stages: [50, 1, 100]"))
    assert main(["reload"]) == 1
    problem = (
        f"{controller.config}: rollouts[0].plan.stages: percents must be strictly increasing"
        " (got [50, 1, 100])"
    )
    assert capsys.readouterr().err == (
        f"rollout: error: reload refused, the running config is kept:\n  {problem}\n (HTTP 422)\n"
    )
    text = scrape(controller.admin_url)
    assert metric_sum(text, "llm_rollout_config_reloads_total", result="ok") == 2
    assert metric_sum(text, "llm_rollout_config_reloads_total", result="error") == 1
    assert metric_sum(text, "llm_rollout_config_reload_problem", problem=problem) == 1

    monkeypatch.setenv("LLM_ROLLOUT_ADMIN_TOKEN", VIEWER)
    assert main(["reload"]) == 1
    assert "this needs operator (HTTP 403)" in capsys.readouterr().err


def test_a_taken_admin_port_stops_the_controller_with_one_line(
    redis_server: RedisServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(controller_config(redis_server.url, f"t{uuid.uuid4().hex[:10]}:"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["controller", "--config", str(path), "--admin-port", str(port)]) == 1
    taken_port = f"cannot serve the admin port 127.0.0.1:{port}: Address already in use"
    assert capsys.readouterr().err == f"rollout controller: {taken_port}\n"


@pytest.fixture
async def off_loopback(tmp_path: Path) -> AsyncIterator[str]:
    """The controller's admin app built for a port bound to 0.0.0.0 (served on loopback)."""
    path = tmp_path / "c.yaml"
    path.write_text(controller_config("redis://127.0.0.1:9/0", "t:", admin_host="0.0.0.0"))
    config = load_config(path)
    store = open_store(None, tmp_path / "data")
    live = ControllerConfig(Controller(store, config.rollouts), str(path), config)
    runner = web.AppRunner(build_controller_admin_app(store, live, config.admin, TOKENS))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()
    await store.close()


@pytest.mark.parametrize(
    ("method", "path", "token", "status"),
    [
        ("GET", "/metrics", None, 401),
        ("GET", "/metrics", "wrong", 401),
        ("GET", "/metrics", VIEWER, 200),
        ("GET", "/v1/config", None, 401),
        ("GET", "/v1/config", VIEWER, 200),
        ("POST", "/v1/config/reload", VIEWER, 403),
        ("POST", "/v1/config/reload", OPERATOR, 200),
        ("GET", "/healthz", None, 200),
        ("GET", "/readyz", None, 200),  # the embedded store here: always reachable
    ],
)
async def test_tokens_off_loopback(
    off_loopback: str, method: str, path: str, token: str | None, status: int
) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, off_loopback + path, headers=headers) as response,
    ):
        assert response.status == status, await response.text()
