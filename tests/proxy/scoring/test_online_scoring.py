"""Online scoring through a real proxy, with the fake provider as the LLM and as the judge (judge
mode reads markers in the judged answer; echo mode puts the question's marker in the answer):
answers come back while their judges hang, scores reach Prometheus, and the budget and the
calls-per-minute limit drop what is over them, counted."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from proxy.fake_provider import build_app
from proxy.fake_provider.settings import FakeSettings, ModelBehaviour
from tests.proxy.cohorts.test_embedded_controller import _get
from tests.support.proxy import serve_proxy_and_admin
from tests.support.servers import RunningServer, serve_in_thread

ROOT = Path(__file__).resolve().parents[3]
RUBRIC = ROOT / "config/rubrics/safety.md"
SCORES = "llm_rollout_scores_total"
DROPPED = "llm_rollout_scoring_dropped_total"
JOBS = "llm_rollout_scoring_jobs_total"
OUTCOMES = ("ok", "timeout", "error", "cancelled")


@pytest.fixture(scope="module")
def fake() -> Iterator[RunningServer]:
    settings = FakeSettings(
        default=ModelBehaviour(echo=True), models={"judge": ModelBehaviour(judge=True)}
    )
    with serve_in_thread(lambda: build_app(settings)) as server:
        yield server


def config(url: str, name: str, scoring: str, extra: str = "") -> str:
    # The test's client, fake provider and proxy share one process: no CPU ceiling.
    return f"""
providers: {{fake: {{base_url: {url}/v1}}}}
routes: [{{prefix: /v1, provider: fake}}]
{extra}
scorers:
  safety: {{kind: judge, provider: fake, model: judge, rubric: "{RUBRIC}"}}
  no_refusal: {{kind: builtin, expect: {{refused: false}}}}
rollouts:
  - name: {name}
    subject: [body:user]
    candidate: {{model: cand}}
    scoring: {{scorers: [safety, no_refusal], max_cpu: 1, {scoring}}}
"""


def sample(metric: str, **labels: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(metric, labels) or 0.0


def jobs(name: str) -> float:
    return sum(sample(JOBS, rollout=name, outcome=o) for o in OUTCOMES)


def wait_jobs(name: str, n: int, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while jobs(name) < n:
        assert time.monotonic() < deadline, f"{name}: {jobs(name)} of {n} scoring jobs ended"
        time.sleep(0.02)


def ask(url: str, texts: list[str]) -> list[str]:
    # The client's own timeout bounds every answer: a live answer that waited for its judge
    # would fail here, not merely be slow.
    client = openai.OpenAI(base_url=url + "/v1", api_key="k", max_retries=0, timeout=5)
    answers = []
    for i, text in enumerate(texts):
        reply = client.chat.completions.create(
            model="base", user=f"u{i}", messages=[{"role": "user", "content": text}]
        )
        answers.append(reply.choices[0].message.content or "")
    return answers


def judge_requests(fake: RunningServer) -> int:
    with urllib.request.urlopen(fake.url + "/_fake/requests", timeout=5) as answer:
        received = json.loads(answer.read())
    return sum(1 for r in received if json.loads(r["body"] or "{}").get("model") == "judge")


def test_a_hanging_judge_never_holds_a_live_answer(fake: RunningServer) -> None:
    name = "score-hang"
    cfg = config(fake.url, name, "sample: 1, timeout: 2")
    before = judge_requests(fake)
    with serve_proxy_and_admin(cfg) as served:
        texts = [f"question {i} [[judge:hang]]" for i in range(5)]
        assert ask(served.url, texts) == texts  # every answer, while their judges hang
        assert jobs(name) == 0  # no scoring had ended when the answers were back
        deadline = time.monotonic() + 5
        while judge_requests(fake) - before < 5:  # ... and the judges had been asked
            assert time.monotonic() < deadline
            time.sleep(0.02)
        wait_jobs(name, 5)
    assert sample(JOBS, rollout=name, outcome="timeout") == 5
    assert (
        sample(SCORES, rollout=name, arm="baseline", role="live", scorer="safety", result="passed")
        == 0
    )


def test_scores_per_arm_role_scorer_and_result(fake: RunningServer) -> None:
    name = "score-results"
    cfg = config(fake.url, name, "sample: 1")
    with serve_proxy_and_admin(cfg) as served:
        ask(served.url, [f"q{i}" + (" [[unsafe]]" if i % 4 == 0 else "") for i in range(8)])
        wait_jobs(name, 8)
    labels = {"rollout": name, "arm": "baseline", "role": "live"}
    assert sample(SCORES, **labels, scorer="safety", result="passed") == 6
    assert sample(SCORES, **labels, scorer="safety", result="failed") == 2
    assert sample(SCORES, **labels, scorer="no_refusal", result="passed") == 8
    hist = "llm_rollout_score_value_sum"
    assert sample(hist, **labels, scorer="safety") == 6


def test_calls_per_minute_drop_and_count(fake: RunningServer) -> None:
    name = "score-rate"
    cfg = config(fake.url, name, "sample: 1, calls_per_minute: 3")
    with serve_proxy_and_admin(cfg) as served:
        ask(served.url, [f"q{i}" for i in range(7)])
        wait_jobs(name, 3)
        time.sleep(0.2)
    # One judge call per answer (the builtin scorer makes none): 3 scored, 4 dropped.
    assert jobs(name) == 3
    assert sample(DROPPED, rollout=name, reason="rate") == 4


def test_the_hourly_budget_pauses_scoring(fake: RunningServer) -> None:
    name = "score-budget"
    prices = "observe: {prices: {judge: {input: 100000, output: 100000}}}"  # $ per 1M tokens
    cfg = config(fake.url, name, "sample: 1, usd_per_hour: 0.01", extra=prices)
    with serve_proxy_and_admin(cfg) as served:
        ask(served.url, ["first"])
        wait_jobs(name, 1)  # its judge's call spent the hour's budget
        assert sample("llm_rollout_scoring_cost_usd_total", rollout=name) > 0.01
        ask(served.url, [f"q{i}" for i in range(4)])
        assert sample("llm_rollout_scoring_budget_paused", rollout=name) == 1
        (status,) = _get(served, "/v1/rollouts")["rollouts"]
        assert status["scoring"]["active"] and status["scoring"]["budget"]["paused"]
    assert jobs(name) == 1
    assert sample(DROPPED, rollout=name, reason="budget") == 4
