"""`rollout controller` as a process of its own (real Redis) reloads its config on SIGHUP: a plan
edit is taken and audited, an invalid edit is refused with file, key path and reason."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rollout.store import open_store
from tests.support.until import until

_REPO = Path(__file__).resolve().parents[2]


def _config(url: str, prefix: str, plan: str = "") -> str:
    return f"""
providers: {{p: {{base_url: 'http://127.0.0.1:9/v1'}}}}
routes: [{{prefix: /v1, provider: p}}]
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
    key_prefix: str

    def reload(self, text: str) -> None:
        self.config.write_text(text)
        self.process.send_signal(signal.SIGHUP)


@pytest.fixture
def controller(redis_server: Any, tmp_path: Path) -> Iterator[ControllerProcess]:
    prefix = f"t{uuid.uuid4().hex[:10]}:"
    path, log = tmp_path / "c.yaml", tmp_path / "controller.log"
    path.write_text(_config(redis_server.url, prefix))
    env = {**os.environ, "LLM_ROLLOUT_CONFIG_POLL": "0"}  # reloads come from SIGHUP only
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "rollout.cli", "controller", "--config", str(path)],
            cwd=_REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield ControllerProcess(process, path, log, prefix)
    finally:
        process.terminate()
        process.wait(10)
    assert process.returncode == 0, log.read_text()


async def test_a_plan_edit_is_taken_on_sighup_and_a_bad_one_refused(
    controller: ControllerProcess, redis_server: Any
) -> None:
    url, prefix, log = redis_server.url, controller.key_prefix, controller.log
    store = open_store(url, controller.config.parent, key_prefix=prefix, timeout=2.0)

    async def actions() -> list[str]:
        return [e["action"] for e in await store.audit.read("r")]

    async def audited(action: str) -> bool:
        return action in await actions()

    try:
        await until(lambda: audited("promote"), 15)  # the ramp is under way: 1%
        controller.reload(_config(url, prefix, ", stages: [1, 50, 100]"))
        await until(lambda: audited("config_reload"), 10)
        applied = (
            "config reloaded (signal): rollout r: plan changed (stages 1,5,25,50,100 -> 1,50,100)"
        )
        assert applied in log.read_text()

        controller.reload(_config(url, prefix, ", stages: [50, 1, 100]"))
        problem = (
            f"{controller.config}: rollouts[0].plan.stages: percents must be strictly increasing"
            " (got [50, 1, 100])"
        )
        await until(lambda: problem in log.read_text(), 10)
        await asyncio.sleep(1.5)  # more looks (one a second): nothing new to audit
        assert await actions() == ["promote", "config_reload"]
    finally:
        await store.close()
