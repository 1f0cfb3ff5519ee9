"""`rollout serve` with an automatic plan runs the controller in-process (embedded store): the
rollout enters its first stage and every request sees the new weight."""

from __future__ import annotations

import time
from typing import Any

import aiohttp

from tests.support.proxy import ServedProxy, openai_config, serve_proxy_and_admin
from tests.support.servers import RunningServer

AUTOMATIC = """
rollouts:
  - name: auto
    weight: 0.5              # ignored once the controller owns the rollout
    candidate: {model: cand}
    plan: {automatic: true, stages: [2, 100], evaluation_interval: 1}
  - name: by-hand
    models: ["other-*"]
    weight: 0.5
    candidate: {model: cand}
"""


def _get(served: ServedProxy, path: str) -> Any:
    async def call() -> Any:
        async with (
            aiohttp.ClientSession() as session,
            session.get(served.admin_url + path) as response,
        ):
            return await response.json()

    return served.server.call(call)


def test_controller_takes_the_rollout_to_its_first_stage(fake: RunningServer) -> None:
    with serve_proxy_and_admin(openai_config(fake.url, AUTOMATIC)) as served:
        deadline = time.monotonic() + 5
        while True:
            weights = {r["name"]: r["weight"] for r in _get(served, "/v1/rollouts")["rollouts"]}
            if weights["auto"] == 0.02 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert weights == {"auto": 0.02, "by-hand": 0.5}
        entries = _get(served, "/v1/audit?rollout=auto")["entries"]
    assert [(e["actor"], e["after"]["phase"], e["after"]["weight"]) for e in entries] == [
        ("controller", "ramping", 0.02)
    ]
