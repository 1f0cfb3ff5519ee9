"""Shadow traffic's bounds: credentials stay with their provider, a full queue and a spent budget
drop pairs (counted), and mirroring follows the rollout's state and its sample."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import replace

import openai
import pytest

from proxy.fake_provider import build_app
from proxy.fake_provider.settings import FakeSettings, ModelBehaviour
from rollout.targeting.cohorts import bucket
from tests.proxy.shadow.test_mirror import sample, wait_shadows
from tests.support.proxy import serve_proxy_and_admin
from tests.support.servers import RunningServer, serve_in_thread

DROPPED = "llm_rollout_shadow_dropped_total"


@pytest.fixture(scope="module")
def slow_fake() -> Iterator[RunningServer]:
    settings = FakeSettings(models={"hang": ModelBehaviour(hang=True)})
    with serve_in_thread(lambda: build_app(settings)) as server:
        yield server


def received(server: RunningServer) -> list[dict[str, object]]:
    with urllib.request.urlopen(server.url + "/_fake/requests", timeout=5) as answer:
        return json.loads(answer.read())


def clear(server: RunningServer) -> None:
    request = urllib.request.Request(server.url + "/_fake/requests", method="DELETE")
    urllib.request.urlopen(request, timeout=5).close()


def ask(url: str, n: int, key: str = "sk-client", first: int = 0) -> None:
    client = openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0)
    for i in range(first, first + n):
        client.chat.completions.create(
            model="base", user=f"u{i}", messages=[{"role": "user", "content": "hi"}]
        )


def rollout_yaml(name: str, candidate: str, shadow: str, extra: str = "") -> str:
    # The test's client, fake provider and proxy share one process, whose CPU is not the
    # proxy's alone: no CPU ceiling unless the test sets one.
    if "max_cpu" not in shadow:
        shadow += ", max_cpu: 1"
    return f"""
rollouts:
  - name: {name}
    subject: [body:user]
    candidate: {candidate}
    shadow: {{{shadow}}}
{extra}"""


@pytest.mark.parametrize(
    ("provider", "expected"),
    [
        ("other: {base_url: OTHER_URL/v1}", None),  # another provider, no key of its own: none sent
        ("other: {base_url: OTHER_URL/v1, api_key_env: OTHER_KEY}", "Bearer sk-other"),
    ],
)
def test_the_clients_key_never_reaches_another_provider(
    fake: RunningServer, other: RunningServer, provider: str, expected: str | None
) -> None:
    name = "creds-" + ("none" if expected is None else "own")
    cfg = f"""
providers:
  fake: {{base_url: {fake.url}/v1}}
  {provider.replace("OTHER_URL", other.url)}
routes: [{{prefix: /v1, provider: fake}}]
""" + rollout_yaml(name, "{provider: other, model: cand}", "share: 1, noise_share: 1")
    clear(fake)
    clear(other)
    with serve_proxy_and_admin(cfg, environ={"OTHER_KEY": "sk-other"}) as served:
        ask(served.url, 3)
        wait_shadows(name, 3)
    shadows = received(other)
    assert len(shadows) == 3
    for request in shadows:
        headers = request["headers"]
        assert headers.get("authorization") == expected
        assert headers["x-llm-rollout-shadow"] == "1"
        assert len(headers["x-llm-rollout-pair"]) == 16
    # On the live provider: the live calls and the noise calls, both with the client's own key.
    live = received(fake)
    assert len(live) == 6
    assert {r["headers"]["authorization"] for r in live} == {"Bearer sk-client"}
    pair_ids = {r["headers"].get("x-llm-rollout-pair") for r in live} - {None}
    assert pair_ids == {r["headers"]["x-llm-rollout-pair"] for r in shadows}


def test_a_full_queue_drops_and_counts(slow_fake: RunningServer) -> None:
    name = "full-queue"
    cfg = f"""
providers: {{fake: {{base_url: {slow_fake.url}/v1}}}}
routes: [{{prefix: /v1, provider: fake}}]
""" + rollout_yaml(
        name,
        "{model: hang}",
        "share: 1, noise_share: 0, timeout: 1, max_queued: 2, max_in_flight: 1",
    )
    with serve_proxy_and_admin(cfg) as served:
        ask(served.url, 8)
        assert sample(DROPPED, rollout=name, reason="queue_full") == 5  # 1 running, 2 waiting
        wait_shadows(name, 3)


def test_a_busy_process_drops_shadows_and_says_so(fake: RunningServer) -> None:
    name = "busy"
    cfg = f"""
providers: {{fake: {{base_url: {fake.url}/v1}}}}
routes: [{{prefix: /v1, provider: fake}}]
""" + rollout_yaml(name, "{model: cand}", "share: 1, noise_share: 0, max_cpu: 0.000001")
    clear(fake)
    with serve_proxy_and_admin(cfg) as served:
        time.sleep(0.15)  # past the first CPU sample: any work at all is above the ceiling
        ask(served.url, 4)
        assert sample(DROPPED, rollout=name, reason="busy") == 4
        assert sample("llm_rollout_shadow_cpu_share") > 0.000001
        with urllib.request.urlopen(served.admin_url + "/v1/rollouts", timeout=5) as answer:
            (status,) = json.loads(answer.read())["rollouts"]
    assert status["shadow"]["max_cpu"] == 0.000001
    calls = received(fake)
    assert len(calls) == 4  # the live calls only
    assert not [r for r in calls if "x-llm-rollout-shadow" in r["headers"]]


def test_a_spent_budget_pauses_mirroring(fake: RunningServer) -> None:
    name = "budget"
    cfg = f"""
providers: {{fake: {{base_url: {fake.url}/v1}}}}
routes: [{{prefix: /v1, provider: fake}}]
observe: {{prices: {{dear: {{input: 1000000, output: 1000000}}}}}}
""" + rollout_yaml(name, "{model: dear}", "share: 1, noise_share: 0, usd_per_hour: 5")
    with serve_proxy_and_admin(cfg) as served:
        ask(served.url, 1)
        wait_shadows(name, 1)  # one call costs far more than $5: the hour's budget is spent
        ask(served.url, 4, first=1)
        assert sample(DROPPED, rollout=name, reason="budget") == 4
        assert sample("llm_rollout_shadow_budget_paused", rollout=name) == 1
        url = f"{served.admin_url}/v1/rollouts/{name}/shadow"
        with urllib.request.urlopen(url, timeout=5) as answer:
            shadow = json.loads(answer.read())["shadow"]
        with urllib.request.urlopen(served.admin_url + "/v1/rollouts", timeout=5) as answer:
            (status,) = json.loads(answer.read())["rollouts"]
    assert status["shadow"]["active"] is True
    assert status["shadow"]["budget"] == shadow["budget"]
    assert shadow["budget"]["paused"] is True
    assert shadow["budget"]["spent_last_hour"] > 5


def test_mirroring_follows_the_state_and_samples_whole_subjects(fake: RunningServer) -> None:
    name = "sampled"
    cfg = f"""
providers: {{fake: {{base_url: {fake.url}/v1}}}}
routes: [{{prefix: /v1, provider: fake}}]
""" + rollout_yaml(name, "{model: cand}", "share: 0.5, noise_share: 0")
    with serve_proxy_and_admin(cfg) as served:
        mirrored = [i for i in range(40) if bucket(f"{name}/shadow", f"u{i}") < 0.5]
        clear(fake)
        ask(served.url, 40)
        wait_shadows(name, len(mirrored))
        shadows = [r for r in received(fake) if "x-llm-rollout-shadow" in r["headers"]]
        assert sorted(int(r["json"]["user"][1:]) for r in shadows) == mirrored
        runtime = served.proxy.runtime
        mirror = served.proxy.generation.mirrors[name]
        state = runtime.state(name)
        assert mirror.active(state)
        assert not mirror.active(state.with_weight(0.05))  # live traffic: shadow only before
        assert not mirror.active(state.with_weight(0.0, killed=True))
        assert not mirror.active(replace(state, phase="rolled_back"))
