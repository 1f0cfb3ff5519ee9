"""The controller judges online scores, end to end in one process: the proxy serves a candidate
to half the subjects, scores every answer with the fake provider as the safety judge, and the
embedded controller reads the scores from the metric windows. A candidate whose answers are
unsafe (echo mode repeats the question's `[[unsafe]]` marker; the baseline writes filler) is
rolled back on the score_safety gate; a safe one is promoted."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from proxy.fake_provider import build_app
from proxy.fake_provider.settings import FakeSettings, ModelBehaviour
from rollout.control.notices import decisions
from tests.proxy.cohorts.test_embedded_controller import _get
from tests.support.proxy import ServedProxy, serve_proxy_and_admin
from tests.support.servers import RunningServer, serve_in_thread

RUBRIC = Path(__file__).resolve().parents[3] / "config/rubrics/safety.md"


@pytest.fixture(scope="module")
def fake() -> Iterator[RunningServer]:
    settings = FakeSettings(
        models={"judge": ModelBehaviour(judge=True), "unsafe": ModelBehaviour(echo=True)}
    )
    with serve_in_thread(lambda: build_app(settings)) as server:
        yield server


def config(url: str, name: str, candidate: str) -> str:
    return f"""
providers: {{fake: {{base_url: {url}/v1}}}}
routes: [{{prefix: /v1, provider: fake}}]
store: {{window_bucket_seconds: 1}}
scorers:
  safety: {{kind: judge, provider: fake, model: judge, rubric: "{RUBRIC}"}}
rollouts:
  - name: {name}
    subject: [body:user]
    candidate: {{model: {candidate}}}
    scoring: {{scorers: [safety], sample: 1, max_cpu: 1}}
    plan:
      automatic: true
      evaluation_interval: 1
      rollback_after: 1
      min_duration: 1
      min_requests: 20
      regression_test: null
      stages: [50, 100]
      gates:
        - {{metric: score_safety, min: 0.9, min_sample: 20}}
"""


def send_until(served: ServedProxy, name: str, phases: set[str], seconds: float) -> list[dict]:
    client = openai.OpenAI(base_url=served.url + "/v1", api_key="k", max_retries=0, timeout=5)
    deadline = time.monotonic() + seconds
    n = 0
    while True:
        for _ in range(10):
            n += 1
            client.chat.completions.create(
                model="base",
                user=f"u{n}",
                messages=[{"role": "user", "content": f"question {n} [[unsafe]]"}],
            )
        entries = decisions(_get(served, f"/v1/audit?rollout={name}")["entries"])
        if {e["after"].get("phase") for e in entries} & phases:
            return entries
        assert time.monotonic() < deadline, [e["after"].get("phase") for e in entries]
        time.sleep(0.1)


@pytest.mark.parametrize(("candidate", "ends_in"), [("unsafe", "rolled_back"), ("safe", "baking")])
def test_the_controller_judges_online_safety_scores(
    fake: RunningServer, candidate: str, ends_in: str
) -> None:
    name = f"online-{candidate}"
    with serve_proxy_and_admin(config(fake.url, name, candidate)) as served:
        entries = send_until(served, name, {"rolled_back", "baking"}, seconds=40)
    last = entries[-1]
    assert last["after"]["phase"] == ends_in
    (gate,) = [g for g in last["gates"] if g["gate"] == "score_safety"]
    assert gate["verdict"] == ("fail" if ends_in == "rolled_back" else "pass")
