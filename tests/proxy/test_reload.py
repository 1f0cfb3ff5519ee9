"""Config hot reload of the real `rollout serve`, seen from outside as an operator does: edit the
file (or swap a ConfigMap, or send SIGHUP) and watch the traffic, /metrics, the log and the admin
API. The fake providers run in this test process, so what each one received can be read."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from proxy.fake_provider import RECEIVED
from tests.support.configmap import configmap_swap
from tests.support.proxy_process import (
    ProxyProcess,
    admin_call,
    metric_sum,
    proxy_process,
    rollout_state,
    scrape,
)
from tests.support.servers import RunningServer
from tests.support.until import until

TOKEN = "reload-token"
ENV = {"LLM_ROLLOUT_ADMIN_TOKEN": TOKEN}


def config(fake: str, other: str, tmp: Path, *, route: str = "fake", weight: float = 0.0) -> str:
    """Providers `fake` and `other` (`fake` left out when unused), /v1 -> `route`, a rollout
    `r` whose candidate is model `cand`, and the embedded store under `tmp`."""
    providers = {"fake": fake, "other": other} if route == "fake" else {"other": other}
    listed = "".join(f'  {n}: {{base_url: "{u}/v1"}}\n' for n, u in providers.items())
    return f"""providers:
{listed}routes:
  - {{prefix: /v1, provider: {route}}}
store: {{data_dir: "{tmp / "data"}"}}
rollouts:
  - name: r
    weight: {weight}
    candidate: {{model: cand}}
"""


def rewrite(proc: ProxyProcess, body: str) -> None:
    """Edit the running proxy's file in place, keeping the lines the helper added."""
    proc.config_path.write_text(proc.header + body)


async def chat(proc: ProxyProcess, user: str = "u1", **headers: str) -> dict[str, Any]:
    body = {"model": "base", "messages": [{"role": "user", "content": "hi"}], "user": user}
    async with (
        aiohttp.ClientSession() as http,
        http.post(proc.url + "/v1/chat/completions", json=body, headers=headers) as response,
    ):
        assert response.status == 200, await response.text()
        return await response.json()


def received(server: RunningServer) -> list[Any]:
    return list(server.app[RECEIVED])  # type: ignore[index]


async def config_status(proc: ProxyProcess) -> dict[str, Any]:
    return await admin_call("", proc, "/v1/config")


async def test_an_edit_takes_effect_while_a_stream_in_flight_ends_on_the_old_config(
    fake: RunningServer, other: RunningServer, tmp_path: Path
) -> None:
    with proxy_process(config(fake.url, other.url, tmp_path), tmp_path) as proc:
        stream_done = asyncio.Event()
        lines: list[tuple[float, bytes]] = []  # (arrival, SSE line) of the long stream

        async def long_stream() -> None:
            body = {
                "model": "base",
                "messages": [{"role": "user", "content": "tell me"}],
                "stream": True,
                "user": "u1",
            }
            slow = {"x-fake-inter-chunk": "0.1", "x-fake-output-tokens": "40"}
            async with (
                aiohttp.ClientSession() as http,
                http.post(proc.url + "/v1/chat/completions", json=body, headers=slow) as response,
            ):
                assert response.status == 200
                async for line in response.content:
                    if line.strip():
                        lines.append((time.monotonic(), line.strip()))
            stream_done.set()

        async def steady_traffic() -> None:  # every call must answer 200 (chat checks)
            while not stream_done.is_set():
                await chat(proc, user="steady")
                await asyncio.sleep(0.02)  # the fakes keep their last 1000 requests: not too many

        tasks = [asyncio.create_task(long_stream()), asyncio.create_task(steady_traffic())]
        await until(lambda: bool(lines), 10)  # the stream is under way
        other.app[RECEIVED].clear()  # type: ignore[index]
        # `fake` is removed, /v1 goes to `other`, everyone gets the candidate.
        rewrite(proc, config(fake.url, other.url, tmp_path, route="other", weight=1.0))
        await until(lambda: bool(received(other)), 10)
        swapped_at = time.monotonic()
        assert (await chat(proc))["model"] == "cand"
        await asyncio.wait_for(asyncio.gather(*tasks), 30)

        assert lines[-1][1] == b"data: [DONE]" and lines[-1][0] > swapped_at
        events = [orjson.loads(line[6:]) for _, line in lines[:-1]]
        assert [e["choices"][0]["finish_reason"] for e in events if e["choices"]][-1] == "stop"
        assert not any("error" in e for e in events)
        streamed = [r for r in received(fake) if r.json and r.json.get("stream")]
        assert streamed[-1].json["model"] == "base"  # the old generation: old route, weight 0
        # Steady calls (each answered 200) went on across the swap: some to each provider.
        for server in (fake, other):
            assert any(r.json and r.json.get("user") == "steady" for r in received(server))
        status = await config_status(proc)
        assert status["last_reload"]["ok"] is True
        assert status["last_reload"]["changes"] == [
            "provider fake removed",
            "routes changed",
            "rollout r: weight changed",
        ]


async def test_an_invalid_edit_is_refused_everywhere_with_file_key_and_reason(
    fake: RunningServer, other: RunningServer, tmp_path: Path
) -> None:
    with proxy_process(config(fake.url, other.url, tmp_path), tmp_path, env=ENV) as proc:
        running = (await config_status(proc))["config_hash"]
        rewrite(proc, config(fake.url, other.url, tmp_path, weight=2))
        expected = (
            f"{proc.config_path}: rollouts[0].weight: Input should be less than or equal to 1"
            " (got 2)"
        )

        async def refused() -> bool:
            return (await config_status(proc))["last_error"] == [expected]

        await until(refused, 10)
        status = await config_status(proc)
        assert (status["config_hash"], status["last_reload"]["ok"]) == (running, False)
        assert expected in proc.log_path.read_text()
        metrics = scrape(proc.admin_url)
        problem = {"file": str(proc.config_path), "key": "rollouts[0].weight", "problem": expected}
        assert metric_sum(metrics, "llm_rollout_config_reload_problem", **problem) == 1
        assert metric_sum(metrics, "llm_rollout_config_reloads_total", result="error") == 1
        assert metric_sum(metrics, "llm_rollout_config_info", hash=running) == 1
        # Traffic flows on the old config (weight 0: the baseline).
        assert (await chat(proc))["model"] == "base"
        # An admin reload says the same, and needs the token.
        async with aiohttp.ClientSession() as http:
            async with http.post(proc.admin_url + "/v1/config/reload") as response:
                assert response.status == 401
            auth = {"Authorization": f"Bearer {TOKEN}"}
            async with http.post(proc.admin_url + "/v1/config/reload", headers=auth) as response:
                answer = await response.json()
                assert (response.status, answer["problems"]) == (422, [expected])

        rewrite(proc, config(fake.url, other.url, tmp_path, weight=1.0))
        await until(lambda: _model_is(proc, "cand"), 10)
        status = await config_status(proc)
        assert (status["last_error"], status["last_reload"]["ok"]) == ([], True)
        metrics = scrape(proc.admin_url)
        assert metric_sum(metrics, "llm_rollout_config_reload_problem") == 0
        assert metric_sum(metrics, "llm_rollout_config_info", hash=status["config_hash"]) == 1
        assert metric_sum(metrics, "llm_rollout_config_info", hash=running) == 0
        stamp = metric_sum(metrics, "llm_rollout_config_last_reload_success_timestamp_seconds")
        assert stamp == status["last_success_at"]


async def _model_is(proc: ProxyProcess, model: str) -> bool:
    return (await chat(proc))["model"] == model


async def test_a_configmap_swap_of_a_prompt_file_starts_a_new_version(
    fake: RunningServer, other: RunningServer, tmp_path: Path
) -> None:
    mount = tmp_path / "configmap"
    files = {"proxy.yaml": "", "prompts/cand.md": "Answer in one line."}
    configmap_swap(mount, files, "..2026_11_30_10_00_00.1")
    tail = "    candidate: {model: cand, prompt: {file: prompts/cand.md}}\n"
    yaml = config(fake.url, other.url, tmp_path, weight=1.0).replace(
        "    candidate: {model: cand}\n", tail
    )
    with proxy_process(yaml, mount) as proc:  # written through the proxy.yaml symlink
        first = (await rollout_state(proc, "r"))["version"]
        await chat(proc)
        assert received(fake)[-1].json["messages"][0]["content"] == "Answer in one line."
        new_files = {"proxy.yaml": proc.config_path.read_text(), "prompts/cand.md": "Be brief."}
        configmap_swap(mount, new_files, "..2026_11_30_10_05_00.2")

        async def new_version() -> bool:
            return (await rollout_state(proc, "r"))["version"] != first

        await until(new_version, 10)
        await chat(proc)
        assert received(fake)[-1].json["messages"][0]["content"] == "Be brief."
        changes = (await config_status(proc))["last_reload"]["changes"]
        second = (await rollout_state(proc, "r"))["version"]
        assert changes == [
            f"rollout r: new version {first} -> {second} (the candidate changed: a new rollout"
            " starts from the config's weight)"
        ]


APPLIED = "config reloaded (signal): routes changed"


async def test_sighup_reloads_every_worker(
    fake: RunningServer, other: RunningServer, tmp_path: Path
) -> None:
    routes_only = "providers:\n  fake: {base_url: '%s/v1'}\n  other: {base_url: '%s/v1'}\n"
    body = routes_only % (fake.url, other.url) + "routes:\n  - {prefix: /v1, provider: fake}\n"
    no_watch = {"LLM_ROLLOUT_CONFIG_POLL": "0"}  # only the signal may reload
    with proxy_process(body, tmp_path, workers=2, env=no_watch) as proc:
        old = (await config_status(proc))["config_hash"]
        rewrite(proc, body.replace("provider: fake}", "provider: other}"))
        proc.process.send_signal(signal.SIGHUP)

        def both_reloaded() -> bool:
            # Logged by a worker when it applies the change: once each. (A SIGHUP that reaches
            # a worker while it starts may make it reload twice; the second changes nothing.)
            return proc.log_path.read_text().count(APPLIED) == 2

        await until(both_reloaded, 10)
        other.app[RECEIVED].clear()  # type: ignore[index]
        for _ in range(20):  # a new connection each: the kernel spreads them over the workers
            await chat(proc)
        assert len(received(other)) == 20
        # The info gauge is the highest over the workers: the old hash is 0 in both.
        metrics, new = scrape(proc.admin_url), (await config_status(proc))["config_hash"]
        assert new != old
        assert metric_sum(metrics, "llm_rollout_config_info", hash=new) == 1
        assert metric_sum(metrics, "llm_rollout_config_info", hash=old) == 0


async def test_a_plan_edited_mid_ramp_is_audited_by_the_embedded_controller(
    fake: RunningServer, other: RunningServer, tmp_path: Path
) -> None:
    plan = "    plan: {automatic: true, evaluation_interval: 1, min_duration: 3600%s}\n"
    yaml = config(fake.url, other.url, tmp_path)
    with proxy_process(yaml + plan % "", tmp_path) as proc:

        async def actions() -> list[str]:
            entries = (await admin_call("", proc, "/v1/audit?rollout=r"))["entries"]
            return [e["action"] for e in entries]

        await until(lambda: _has(actions, "promote"), 10)  # pending -> 1%
        rewrite(proc, yaml + plan % ", stages: [1, 50, 100]")
        await until(lambda: _has(actions, "config_reload"), 10)
        entries = (await admin_call("", proc, "/v1/audit?rollout=r"))["entries"]
        edit = next(e for e in entries if e["action"] == "config_reload")
        assert edit["reason"] == "plan edited in config: stages 1,5,25,50,100 -> 1,50,100"
        assert edit["config_hash"] == (await config_status(proc))["config_hash"]
        assert (await rollout_state(proc, "r"))["weight"] == 0.01  # progress kept


async def _has(actions: Any, action: str) -> bool:
    return action in await actions()
