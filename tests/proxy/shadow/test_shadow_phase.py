"""A rollout's shadow phase end to end, in one process: the embedded controller starts the phase
(weight 0), the proxy mirrors live traffic to the candidate, and the controller judges those
shadow calls and pairs — entering the first stage with a healthy candidate, rolling back one
whose answers disagree with the live ones far beyond the baseline's own noise."""

from __future__ import annotations

import time
from collections.abc import Iterator

import openai
import pytest

from proxy.fake_provider import build_app
from proxy.fake_provider.settings import FakeSettings, ModelBehaviour
from rollout.control.notices import decisions
from tests.proxy.cohorts.test_embedded_controller import _get
from tests.support.proxy import ServedProxy, serve_proxy_and_admin
from tests.support.servers import RunningServer, serve_in_thread


@pytest.fixture(scope="module")
def fakes() -> Iterator[RunningServer]:
    settings = FakeSettings(models={"refuser": ModelBehaviour(refusal_rate=1.0)})
    with serve_in_thread(lambda: build_app(settings)) as server:
        yield server


def config(url: str, name: str, candidate: str) -> str:
    return f"""
providers: {{fake: {{base_url: {url}/v1}}}}
routes: [{{prefix: /v1, provider: fake}}]
store: {{window_bucket_seconds: 1}}
rollouts:
  - name: {name}
    candidate: {{model: {candidate}}}
    shadow: {{share: 1, per: request, noise_share: 1, max_cpu: 1}}
    plan:
      automatic: true
      evaluation_interval: 1
      rollback_after: 1
      stages: [10, 100]
      shadow: {{duration: 1, min_requests: 20}}
      gates:
        - {{metric: disagreement_refusal, max_delta_to_baseline: 0.1, min_sample: 20}}
"""


def ramp_until(served: ServedProxy, name: str, phases: set[str], seconds: float) -> list[dict]:
    """Send traffic until the rollout's audit shows one of `phases`; returns the audit."""
    client = openai.OpenAI(base_url=served.url + "/v1", api_key="k", max_retries=0)
    deadline = time.monotonic() + seconds
    while True:
        for i in range(10):
            client.chat.completions.create(
                model="base", messages=[{"role": "user", "content": f"question {i}"}]
            )
        entries = decisions(_get(served, f"/v1/audit?rollout={name}")["entries"])
        if {e["after"].get("phase") for e in entries} & phases:
            return entries
        assert time.monotonic() < deadline, [e["after"].get("phase") for e in entries]
        time.sleep(0.2)


@pytest.mark.parametrize(
    ("candidate", "ends_in"), [("cand", "ramping"), ("refuser", "rolled_back")]
)
def test_the_shadow_phase_judges_mirrored_pairs(
    fakes: RunningServer, candidate: str, ends_in: str
) -> None:
    name = f"phase-{candidate}"
    with serve_proxy_and_admin(config(fakes.url, name, candidate)) as served:
        entries = ramp_until(served, name, {"ramping", "rolled_back"}, seconds=30)
    phases = [e["after"]["phase"] for e in entries]
    assert phases == ["shadow", ends_in]
    assert entries[0]["after"]["weight"] == 0.0  # nobody served the candidate in the phase
    (gate,) = entries[1]["gates"]
    assert gate["gate"] == "disagreement_refusal"
    assert gate["verdict"] == ("pass" if ends_in == "ramping" else "fail")
