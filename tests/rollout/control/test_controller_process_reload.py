"""`rollout controller` as a process of its own (real Redis) reloads its config on SIGHUP: a plan
edit is taken and audited, an invalid edit is refused with file, key path and reason."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rollout.config import load_config
from rollout.store import open_store
from tests.support.controller_process import (
    ControllerProcess,
    controller_config,
    controller_process,
)
from tests.support.until import until


@pytest.fixture
def controller(redis_server: Any, tmp_path: Path) -> Iterator[ControllerProcess]:
    path = tmp_path / "c.yaml"
    path.write_text(controller_config(redis_server.url, f"t{uuid.uuid4().hex[:10]}:"))
    with controller_process(path, tmp_path) as proc:
        yield proc


async def test_a_plan_edit_is_taken_on_sighup_and_a_bad_one_refused(
    controller: ControllerProcess, redis_server: Any
) -> None:
    url, log = redis_server.url, controller.log
    prefix = load_config(controller.config).store.key_prefix
    store = open_store(url, controller.config.parent, key_prefix=prefix, timeout=2.0)

    async def actions() -> list[str]:
        return [e["action"] for e in await store.audit.read("r")]

    async def audited(action: str) -> bool:
        return action in await actions()

    try:
        await until(lambda: audited("promote"), 15)  # the ramp is under way: 1%
        controller.reload(controller_config(url, prefix, ", stages: [1, 50, 100]"))
        await until(lambda: audited("config_reload"), 10)
        applied = (
            "config reloaded (signal): rollout r: plan changed (stages 1,5,25,50,100 -> 1,50,100)"
        )
        assert applied in log.read_text()

        controller.reload(controller_config(url, prefix, ", stages: [50, 1, 100]"))
        problem = (
            f"{controller.config}: rollouts[0].plan.stages: percents must be strictly increasing"
            " (got [50, 1, 100])"
        )
        await until(lambda: problem in log.read_text(), 10)
        await asyncio.sleep(1.5)  # more looks (one a second): nothing new to audit
        assert await actions() == ["promote", "config_reload"]
    finally:
        await store.close()
