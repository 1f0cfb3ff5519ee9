"""Every query of the Grafana dashboard, run by a real Prometheus scraping a real `rollout serve`
after real OpenAI SDK traffic through a rollout (fake provider upstream): each must parse, and
each whose metrics the traffic produced must return data. The variables' label_values queries
must list the rollout, its arms and its roles.

The rollout is automatic: its embedded controller starts it at 50% (where it stays: both arms
serve), finds the secondary refusal gate failing and waits; an approver accepts that gate, and
the controller panels must show the ramp as an operator would read it."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from proxy.fake_provider import build_app
from tests.support.grafana_dashboard import (
    label_value_variables,
    load,
    panel_titled,
    queries,
    shown,
    substitute,
)
from tests.support.prometheus_server import PrometheusError, PrometheusServer
from tests.support.proxy_process import ProxyProcess, http_status, proxy_process, rollout_state
from tests.support.servers import serve_in_thread

ROLLOUT = "support-v2"
USERS = [f"user-{i}" for i in range(16)]  # enough subjects for both arms at weight 0.5
VARIABLES = {"rollout": ROLLOUT, "arm": ".*", "role": ".*", "__rate_interval": "1m"}
# What the traffic below must make the proxy export, so that "returns data" is never vacuous.
PRODUCED = {
    "llm_rollout_requests_total",
    "llm_rollout_errors_total",
    "llm_rollout_request_duration_seconds_bucket",
    "llm_rollout_ttft_seconds_bucket",
    "llm_rollout_tokens_total",
    "llm_rollout_cost_usd_total",
    "llm_rollout_refusals_total",
    "llm_rollout_json_checks_total",
    "llm_rollout_weight",
    "llm_rollout_killed",
    "llm_rollout_assignments_total",
    "llm_rollout_store_up",
    "llm_rollout_proxy_overhead_seconds_bucket",
    "llm_rollout_flag_matches_total",
    "llm_rollout_prompt_not_applied_total",
    "llm_rollout_malformed_requests_total",
    "llm_rollout_rejected_requests_total",
    "llm_rollout_shadow_jobs_total",
    "llm_rollout_shadow_comparisons_total",
    "llm_rollout_phase",
    "llm_rollout_decisions_total",
    "llm_rollout_gate_status",
    "llm_rollout_gate_accepted",
    "llm_rollout_regression_tested",
}
ADMIN_TOKEN = "dashboard-test-approver"
MESSAGES = [{"role": "user", "content": "hello there"}]
JSON_MODE = {"type": "json_object"}


def config(fake_url: str, data_dir: Path) -> str:
    return f"""
store: {{data_dir: "{data_dir}"}}   # a fresh embedded store: the controller starts afresh
providers:
  fake: {{base_url: "{fake_url}/v1"}}
routes: [{{prefix: /v1, provider: fake}}]
rollouts:
  - name: {ROLLOUT}
    models: [gpt-4o-mini]
    weight: 0.5
    candidate: {{model: gpt-4o, prompt: {{text: "Answer briefly."}}}}
    shadow: {{share: 1, per: request, noise_share: 0.5, during_ramp: true, max_cpu: 1}}
    plan:
      automatic: true
      stages: [50, 100]
      min_duration: 3600      # stays at 50%: both arms serve all along
      evaluation_interval: 1  # a look every second
      # The first stage's regression test, made early (the rounds send a few dozen calls); the
      # same provider behind both arms cannot be past +50 pp of errors: it finds nothing.
      regression_test: {{requests: 20}}
      gates:
        - {{metric: error_rate, max_delta_to_baseline: 0.5, min_sample: 20}}
        # Every 8th call is refused (x-fake-refuse): beyond 1%, so the controller waits for
        # an approver.
        - {{metric: refusal_rate, max: 0.01, min_sample: 20, class: secondary}}
        - {{metric: cost_per_1k, max: 100}}   # needs a minute of buckets: no_data here
flags:
  - name: cap-free-tier
    when: {{headers: {{x-tier: free}}}}
    then: {{cap: {{max_tokens: 64}}}}
"""


def post_status(url: str, body: bytes, token: str = "") -> int:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def one_round(client: openai.OpenAI, proxy: ProxyProcess) -> int:
    """Calls of every kind the dashboard shows, for every user; returns how many calls the
    rollout governed."""
    assert http_status(proxy.url + "/no-such-route") == 404  # rejected: route_not_found
    assert post_status(proxy.url + "/v1/chat/completions", b"{not json") == 400  # malformed
    calls = 0
    for user in USERS:
        ask = {"model": "gpt-4o-mini", "messages": MESSAGES, "user": user}
        client.chat.completions.create(**ask)
        list(client.chat.completions.create(**ask, stream=True))
        client.chat.completions.create(**ask, extra_headers={"x-fake-refuse": "1"})
        client.chat.completions.create(**ask, response_format=JSON_MODE)
        client.chat.completions.create(
            **ask, response_format=JSON_MODE, extra_headers={"x-fake-invalid-json": "1"}
        )
        client.chat.completions.create(**ask, extra_headers={"x-tier": "free"})
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(**ask, extra_headers={"x-fake-error-status": "429"})
        # Embeddings cannot carry the candidate's prompt: counted as prompt_not_applied.
        client.embeddings.create(model="gpt-4o-mini", input="hello", user=user)
        calls += 8
    return calls


def wait_until_scraped(prom: PrometheusServer, proxy: ProxyProcess, calls: int) -> None:
    """Until Prometheus holds a sample with every live call counted, and a shadow job ended for
    every call the baseline served (each is mirrored: share 1) (10 s at most)."""
    live = f'sum(llm_rollout_requests_total{{rollout="{ROLLOUT}", role="live"}})'
    baseline = live.replace('role="live"', 'role="live", arm="baseline"')
    jobs = f'sum(llm_rollout_shadow_jobs_total{{rollout="{ROLLOUT}"}})'
    deadline = time.monotonic() + 10
    while True:
        seen = [prom.query(q) for q in (live, baseline, jobs)]
        counts = [float(r[0]["value"][1]) if r else None for r in seen]
        if counts[0] == calls and counts[1] == counts[2]:
            return
        proxy.assert_alive()
        assert time.monotonic() < deadline, f"Prometheus never saw {calls} calls: {counts}"
        time.sleep(0.2)


def wait_for_phase(proxy: ProxyProcess, phase: str, client: openai.OpenAI | None = None) -> None:
    """Until the controller puts the rollout in `phase` (15 s at most). With a client, refused
    calls meanwhile: the controller reads only the 10 s metric buckets that began after the
    stage did, which the rounds' calls may all precede."""
    deadline = time.monotonic() + 15
    while (state := asyncio.run(rollout_state(proxy, ROLLOUT)))["phase"] != phase:
        proxy.assert_alive()
        assert time.monotonic() < deadline, f"the controller never reached {phase}: {state}"
        if client is not None:
            for user in USERS:
                ask = {"model": "gpt-4o-mini", "messages": MESSAGES, "user": user}
                client.chat.completions.create(**ask, extra_headers={"x-fake-refuse": "1"})
        time.sleep(0.2)


def accept_refusal_gate(prom: PrometheusServer, proxy: ProxyProcess) -> None:
    """An approver accepts the failing secondary gate; until Prometheus has seen it (10 s)."""
    body = json.dumps({"gate": "refusal_rate", "reason": "dashboard test", "actor": "tester"})
    url = f"{proxy.admin_url}/v1/rollouts/{ROLLOUT}/approve"
    assert post_status(url, body.encode(), ADMIN_TOKEN) == 200
    accepted = f'max(llm_rollout_gate_accepted{{rollout="{ROLLOUT}", gate="refusal_rate"}})'
    deadline = time.monotonic() + 10
    while [float(s["value"][1]) for s in prom.query(accepted)] != [1.0]:
        proxy.assert_alive()
        assert time.monotonic() < deadline, "Prometheus never saw the gate accepted"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    """Two identical rounds of traffic, each scraped before the next, so that every series has
    two samples that differ: what rate() needs. Then the controller's wait for an approver, and
    the approval."""
    admin = {"LLM_ROLLOUT_ADMIN_TOKEN": ADMIN_TOKEN}
    directory = tmp_path_factory.mktemp("dash")
    with (
        serve_in_thread(build_app) as fake,
        proxy_process(config(fake.url, directory / "data"), directory, env=admin) as proxy,
        PrometheusServer([f"127.0.0.1:{proxy.admin_port}"]) as prom,
    ):
        wait_for_phase(proxy, "ramping")
        client = openai.OpenAI(base_url=proxy.url + "/v1", api_key="sk-test", max_retries=0)
        calls = one_round(client, proxy)
        wait_until_scraped(prom, proxy, calls)
        calls += one_round(client, proxy)
        wait_until_scraped(prom, proxy, calls)
        wait_for_phase(proxy, "awaiting_approval", client)
        accept_refusal_gate(prom, proxy)
        yield prom


def test_traffic_produced_the_metrics_the_core_panels_need(prometheus: PrometheusServer) -> None:
    assert PRODUCED - prometheus.metric_names() == set()


def test_every_query_parses_and_returns_data_when_its_metrics_exist(
    prometheus: PrometheusServer,
) -> None:
    present = prometheus.metric_names()
    answered, empty = [], []
    for query in queries(load()):
        result = prometheus.query(substitute(query.expr, VARIABLES))  # raises on a parse error
        if query.metrics <= present:
            (answered if result else empty).append(query.panel)
    assert empty == [], f"no data from: {empty}"
    assert len(answered) >= 35, answered


def test_variables_list_the_rollout_its_arms_and_roles(prometheus: PrometheusServer) -> None:
    listed = {
        v.name: prometheus.label_values(v.label, substitute(v.match, VARIABLES))
        for v in label_value_variables(load())
    }
    assert listed == {
        "rollout": [ROLLOUT],
        "arm": ["baseline", "candidate"],
        "role": ["live", "shadow"],
    }


def test_candidate_and_baseline_both_show_in_the_per_arm_panels(
    prometheus: PrometheusServer,
) -> None:
    (latency,) = [q for q in queries(load()) if q.panel.startswith("Time to first token")]
    arms = {s["metric"]["arm"] for s in prometheus.query(substitute(latency.expr, VARIABLES))}
    assert arms == {"baseline", "candidate"}


def test_shadow_comparison_panels_show_both_kinds(prometheus: PrometheusServer) -> None:
    """Every baseline call is mirrored, half of them with a second baseline call (noise)."""
    shadow = [q for q in queries(load()) if "llm_rollout_shadow_comparisons_total" in q.metrics]
    assert len(shadow) == 2
    for query in shadow:
        assert prometheus.query(substitute(query.expr, VARIABLES)) != [], query.panel


def shown_by(prom: PrometheusServer, title: str, label: str = "") -> dict[str, str]:
    """What the panel's first query shows now, per `label` (or the single value, under "")."""
    panel = panel_titled(load(), title)
    expr = substitute(panel["targets"][0]["expr"], VARIABLES)
    return {s["metric"].get(label, ""): shown(panel, s["value"][1]) for s in prom.query(expr)}


def test_controller_panels_show_the_ramp(prometheus: PrometheusServer) -> None:
    """Read as an operator reads them: the phase and every gate's verdict by name, the accepted
    gate, and the decisions the controller made on the way."""
    assert shown_by(prometheus, "Phase") == {"": "ramping"}  # accepted: the ramp goes on
    assert shown_by(prometheus, "Phase and candidate weight") == {"": "ramping"}
    verdicts = shown_by(prometheus, "Gate verdicts now", "gate")
    assert verdicts == shown_by(prometheus, "Gate verdicts over time", "gate")
    assert verdicts.pop("refusal_rate") == "fail"
    assert verdicts.pop("cost_per_1k") == "no_data"
    assert verdicts.pop("error_rate") in ("pass", "inconclusive", "no_data")  # never a fail
    assert verdicts == {}
    accepted = shown_by(prometheus, "Accepted secondary gates", "gate")
    assert accepted == {"refusal_rate": "ACCEPTED: watch"}
    # error_rate is the one gate relative to the baseline: the one tested
    assert shown_by(prometheus, "Regression test (first stage)", "gate") == {"error_rate": "made"}
    made = f'sum by (action) (llm_rollout_decisions_total{{rollout="{ROLLOUT}"}})'
    actions = {s["metric"]["action"] for s in prometheus.query(made)}
    assert actions == {"promote", "hold", "await_approval"}


def test_a_broken_query_is_reported(prometheus: PrometheusServer) -> None:
    """The check above can fail: Prometheus rejects what does not parse."""
    with pytest.raises(PrometheusError, match="bad_data"):
        prometheus.query("sum by (arm (rate(llm_rollout_requests_total[1m]))")
