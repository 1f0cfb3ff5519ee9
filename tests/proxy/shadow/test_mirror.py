"""Shadow traffic end to end: the real proxy, the fake provider, the official OpenAI SDK.

A candidate that is slow, hangs, fails or resets mid-stream must leave every live answer exactly
as the provider sent it (compared byte for byte with a direct call, the random ids and creation
times aside), while the shadow pairs are compared and counted.
"""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import openai
import orjson
import pytest
from prometheus_client import REGISTRY

from proxy.fake_provider import build_app
from proxy.fake_provider.settings import FakeSettings, ModelBehaviour
from tests.support.proxy import serve_proxy_and_admin
from tests.support.servers import RunningServer, serve_in_thread

BEHAVIOURS = {
    "slow": ModelBehaviour(latency=0.3, ttft=0.3, inter_chunk=0.02),
    "hang": ModelBehaviour(hang=True),
    "fails": ModelBehaviour(error_rate=1.0, error_status=500),
    "resets": ModelBehaviour(reset_after_chunks=2, output_tokens=8),
}
JOBS = "llm_rollout_shadow_jobs_total"
OUTCOMES = ("ok", "timeout", "error", "cancelled")
_RANDOM_FIELDS = re.compile(rb'"(id|created)":\s*("[^"]*"|\d+)')


@pytest.fixture(scope="module")
def shadowed() -> Iterator[RunningServer]:
    """A fake provider whose candidate models misbehave (the baseline model is fine)."""
    settings = FakeSettings(models=BEHAVIOURS, record_limit=10_000)
    with serve_in_thread(lambda: build_app(settings)) as server:
        yield server


def config(url: str, name: str, candidate: str, shadow: str = "", other_url: str = "") -> str:
    other = f"  other: {{base_url: {other_url}/v1}}\n"
    return f"""
providers:
  fake: {{base_url: {url}/v1}}
{other if other_url else ""}
routes: [{{prefix: /v1, provider: fake}}]
rollouts:
  - name: {name}
    subject: [body:user]
    candidate: {candidate}
    shadow: {{share: 1.0, noise_share: 0, timeout: 1, pairs: {{sample: 1}}, max_cpu: 1{shadow}}}
"""


def wait_shadows(name: str, jobs: int) -> None:
    """Until `jobs` shadow jobs of the rollout have ended. (A streamed live answer is complete
    for the client before the mirror stage hands its job to the queue.)"""
    deadline = time.monotonic() + 15
    while sum(sample(JOBS, rollout=name, outcome=o) for o in OUTCOMES) < jobs:
        assert time.monotonic() < deadline, f"{name}: shadow jobs did not end"
        time.sleep(0.02)


def sample(metric: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(metric, labels) or 0.0


def normalised(raw: bytes) -> bytes:
    return _RANDOM_FIELDS.sub(rb'"\1":"-"', raw)


def exchange(base_url: str, body: dict[str, object]) -> bytes:
    """The status and the body bytes, as the client received them."""
    request = urllib.request.Request(
        f"{base_url}/v1/chat/completions",
        data=orjson.dumps(body),
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return b"%d " % answer.status + answer.read()
    except urllib.error.HTTPError as exc:
        return b"%d " % exc.code + exc.read()


def requests_of(n: int) -> list[dict[str, object]]:
    return [
        {
            "model": "base",
            "user": f"u{i}",
            "messages": [{"role": "user", "content": f"question {i}"}],
            "stream": i % 2 == 0,
            # Asked for by the client, so the proxy does not ask for usage itself (which adds
            # `"usage": null` to every chunk, as OpenAI does): the bytes are the provider's own.
            **({"stream_options": {"include_usage": True}} if i % 2 == 0 else {}),
        }
        for i in range(n)
    ]


@pytest.mark.parametrize("candidate", sorted(BEHAVIOURS))
def test_a_bad_candidate_leaves_every_live_answer_untouched(
    shadowed: RunningServer, candidate: str
) -> None:
    name = f"bad-{candidate}"
    bodies = requests_of(12)
    direct = [normalised(exchange(shadowed.url, b)) for b in bodies]
    cfg = config(shadowed.url, name, f"{{model: {candidate}}}")
    with serve_proxy_and_admin(cfg) as served:
        through = [normalised(exchange(served.url, b)) for b in bodies]
        queue = served.proxy.generation.mirrors[name].queue
        if candidate == "hang":  # the live answers were all back while every shadow still hung
            assert queue.in_flight + queue.queued > 0
        wait_shadows(name, 12)
    assert through == direct
    pairs = sample(
        "llm_rollout_shadow_comparisons_total",
        rollout=name,
        kind="candidate",
        comparator="error",
        result="disagree",
    )
    # The fake resets streams only: half of the requests stream.
    assert pairs == {"hang": 12, "fails": 12, "resets": 6, "slow": 0}[candidate]
    assert (
        sample(
            "llm_rollout_requests_total",
            rollout=name,
            arm="candidate",
            role="shadow",
            provider="fake",
            model=candidate,
        )
        == 12
    )


def test_pairs_are_compared_counted_kept_and_redacted(shadowed: RunningServer) -> None:
    name = "kept-pairs"
    cfg = config(shadowed.url, name, "{model: cand}", shadow=", noise_share: 1")
    with serve_proxy_and_admin(cfg) as served:
        client = openai.OpenAI(base_url=served.url + "/v1", api_key="sk-client", max_retries=0)
        for i in range(6):
            client.chat.completions.create(
                model="base",
                user=f"u{i}",
                messages=[{"role": "user", "content": f"mail me at ann{i}@example.com"}],
                stream=i % 2 == 1,
            )
        wait_shadows(name, 6)
        pairs = served.server.call(lambda: served.proxy.runtime.store.pairs.read(name, 50))
    assert len(pairs) == 6
    pair = pairs[0]
    assert pair["live"]["model"] == "base" and pair["candidate"]["model"] == "cand"
    assert pair["noise"]["model"] == "base" and pair["noise"]["arm"] == "baseline"
    assert pair["live"]["text"] and pair["candidate"]["text"]
    assert "[EMAIL]" in orjson.dumps(pair["request"]).decode()
    assert "example.com" not in orjson.dumps(pair).decode()
    # The fake answers the same request the same way: the baseline never disagrees with itself.
    for comparator in ("error", "refusal", "finish", "text"):
        assert (
            sample(
                "llm_rollout_shadow_comparisons_total",
                rollout=name,
                kind="noise",
                comparator=comparator,
                result="agree",
            )
            == 6
        )
    assert (
        sample(
            "llm_rollout_shadow_comparisons_total",
            rollout=name,
            kind="candidate",
            comparator="error",
            result="agree",
        )
        == 6
    )
    assert (
        sample(
            "llm_rollout_tokens_total",
            rollout=name,
            arm="candidate",
            role="shadow",
            provider="fake",
            model="cand",
            type="output",
        )
        > 0
    )
