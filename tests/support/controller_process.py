"""Run the real `rollout controller` as a subprocess, on a free loopback admin port.

    with controller_process(config_path, tmp_path) as proc:
        proc.admin_url        # /metrics, /healthz, /readyz, /v1/config, /v1/config/reload

The config file is the caller's (it needs a Redis store and an automatic rollout); the admin
port is given with `--admin-port`, so the file's `admin:` host and tokens apply. Polling of the
config file is off unless `env` turns it on: reloads come from SIGHUP or the admin API.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.proxy_process import http_status, stop_process
from tests.support.servers import free_port

_REPO = Path(__file__).resolve().parents[2]
START_SECONDS = 15.0


def controller_config(url: str, prefix: str, plan: str = "", admin_host: str = "127.0.0.1") -> str:
    """A config for the controller process: Redis at `url` under key `prefix`, and rollout `r`
    with an automatic plan that looks every second and stays an hour at each stage (`plan`: more
    plan fields, starting with a comma)."""
    return f"""
providers: {{p: {{base_url: 'http://127.0.0.1:9/v1'}}}}
routes: [{{prefix: /v1, provider: p}}]
admin: {{host: '{admin_host}'}}
store: {{redis_url: '{url}', key_prefix: '{prefix}'}}
rollouts:
  - name: r
    candidate: {{model: m2}}
    plan: {{automatic: true, evaluation_interval: 1, min_duration: 3600{plan}}}
"""


@dataclass
class ControllerProcess:
    process: subprocess.Popen[bytes]
    config: Path
    log: Path
    admin_port: int

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    def reload(self, text: str) -> None:
        """Write the config file anew and send SIGHUP."""
        self.config.write_text(text)
        self.process.send_signal(signal.SIGHUP)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        stop_process(self.process)


@contextmanager
def controller_process(
    config: Path, directory: Path, env: Mapping[str, str] | None = None
) -> Iterator[ControllerProcess]:
    """Start it, wait until its admin port answers /healthz, and stop it (SIGTERM) at the end;
    it must then exit with 0."""
    port, log = free_port(), directory / "controller.log"
    argv = ["controller", "--config", str(config), "--admin-port", str(port)]
    base = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "rollout.cli.main", *argv],
            cwd=_REPO,
            env={**base, "LLM_ROLLOUT_CONFIG_POLL": "0", **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    proc = ControllerProcess(process, config, log, port)
    try:
        _wait_started(proc)
        yield proc
    finally:
        process.terminate()
        process.wait(10)
    assert process.returncode == 0, proc.log_text()


def _wait_started(proc: ControllerProcess) -> None:
    deadline = time.monotonic() + START_SECONDS
    while http_status(proc.admin_url + "/healthz") != 200:
        assert proc.process.poll() is None, f"rollout controller exited:\n{proc.log_text()}"
        assert time.monotonic() < deadline, f"not started in time:\n{proc.log_text()}"
        time.sleep(0.05)
