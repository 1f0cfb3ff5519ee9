"""Run the real `rollout serve` as a subprocess on free loopback ports, from YAML text.

    with proxy_process(config_yaml, tmp_path, env={"LLM_ROLLOUT_ADMIN_TOKEN": "t"}) as proc:
        proc.url, proc.admin_url        # traffic port, admin port (/metrics, /readyz, /v1/...)

The helper adds `listen` and `admin` (each on its own free port) to the config; the YAML given
must not set them. The process's output goes to a log file whose tail is shown when it fails.
What the process answers is only ever read over HTTP, as an operator would.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.support.servers import free_port

_REPO = Path(__file__).resolve().parents[2]
START_SECONDS = 15.0


@dataclass
class ProxyProcess:
    process: subprocess.Popen[bytes]
    port: int
    admin_port: int
    log_path: Path
    config_path: Path  # starts with `header`
    header: str  # the lines the helper added: listen, admin and, if the YAML had none, store

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def assert_alive(self) -> None:
        code = self.process.poll()
        assert code is None, f"rollout serve exited with {code}:\n{self.log_tail()}"

    def stop(self) -> None:
        """SIGTERM (graceful: the store is flushed and closed), SIGKILL after 10 s."""
        stop_process(self.process)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, SIGKILL after 10 s; nothing when it has already exited."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def start_proxy_process(
    config_yaml: str,
    directory: Path,
    *,
    name: str = "proxy",
    env: Mapping[str, str] | None = None,
    workers: int = 1,
    ready_path: str = "/readyz",
) -> ProxyProcess:
    """Write the config under `directory` (as `<name>.yaml`; through a symlink if one is there
    already), start the process and wait until the admin port answers `ready_path` with 200
    (use /healthz for a proxy that is meant to be not ready)."""
    if any(line.startswith(("listen:", "admin:")) for line in config_yaml.splitlines()):
        raise ValueError("the helper sets listen and admin; leave them out of the config")
    port, admin_port = free_port(), free_port()
    config = directory / f"{name}.yaml"
    # Without a store section the embedded store would write ./data in the repository (the
    # process runs there), and its state would outlive the test: give it the test's directory.
    store = (
        ""
        if "\nstore:" in f"\n{config_yaml}"
        else f"store: {{data_dir: '{directory}/data-{name}'}}\n"
    )  # a YAML with its own store section names its data_dir, or uses Redis
    header = (
        f"listen: {{host: 127.0.0.1, port: {port}}}\n"
        f"admin: {{host: 127.0.0.1, port: {admin_port}}}\n{store}"
    )
    config.write_text(header + config_yaml)
    log_path = directory / f"{name}.log"
    # A worker count of 1 uses the plain registry; an inherited multiprocess directory would
    # mix this process's metrics with another's.
    base = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    argv = [sys.executable, "-m", "rollout.cli.main", "serve", "--config", str(config)]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [*argv, "--workers", str(workers)],
            cwd=_REPO,
            env={**base, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    proc = ProxyProcess(process, port, admin_port, log_path, config, header)
    try:
        wait_status(proc, proc.admin_url + ready_path, 200, START_SECONDS)
    except BaseException:
        proc.stop()
        raise
    return proc


@contextmanager
def proxy_process(config_yaml: str, directory: Path, **options: object) -> Iterator[ProxyProcess]:
    proc = start_proxy_process(config_yaml, directory, **options)  # type: ignore[arg-type]
    try:
        yield proc
    finally:
        proc.stop()


def http_status(url: str, timeout: float = 1.0) -> int | None:
    """The status a GET answers with, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def wait_status(proc: ProxyProcess, url: str, status: int, seconds: float) -> float:
    """Poll until GET `url` answers `status`; returns how long that took."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        proc.assert_alive()
        if http_status(url) == status:
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"{url} did not answer {status} within {seconds:g} s:\n{proc.log_tail()}")


def scrape(admin_url: str) -> str:
    with urllib.request.urlopen(admin_url + "/metrics", timeout=5) as response:
        return response.read().decode()


def metric_sum(text: str, name: str, **labels: str) -> float:
    """The sum of every sample of `name` whose labels include `labels`."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


async def admin_call(token: str, proc: ProxyProcess, path: str, body: Any = None) -> Any:
    """GET (no body) or POST `body` to the admin API; the answer, which must be a 200."""
    headers = {"Authorization": f"Bearer {token}"}
    method = "GET" if body is None else "POST"
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, proc.admin_url + path, json=body, headers=headers) as response,
    ):
        answer = await response.json(content_type=None)
        assert response.status == 200, answer
        return answer


async def rollout_state(proc: ProxyProcess, rollout: str) -> dict[str, Any]:
    """The rollout's entry in GET /v1/rollouts: weight, max_weight, killed, epoch, version…"""
    listed = (await admin_call("", proc, "/v1/rollouts"))["rollouts"]
    return next(r for r in listed if r["name"] == rollout)


async def wait_rollout_state(
    proc: ProxyProcess, rollout: str, seconds: float = 3.0, **want: Any
) -> None:
    """Poll until the replica applies the `want`ed state fields (e.g. weight=0.2)."""
    deadline = time.monotonic() + seconds
    while True:
        state = await rollout_state(proc, rollout)
        if all(state[k] == v for k, v in want.items()):
            return
        assert time.monotonic() < deadline, f"{proc.url} still has {state}, wanted {want}"
        await asyncio.sleep(0.05)
