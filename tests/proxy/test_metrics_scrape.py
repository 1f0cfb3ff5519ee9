"""/metrics of a real `rollout serve --workers 2` after real SDK traffic: parsed, exact counts
summed over both worker processes, and accepted by `promtool check metrics`."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import anthropic
import openai
import pytest

from tests.support.proxy_process import metric_sum, proxy_process, scrape
from tests.support.servers import RunningServer

MESSAGES = [{"role": "user", "content": "hello there"}]


@pytest.fixture(scope="module")
def served(fake: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    config = f"""
providers:
  fake-openai: {{base_url: "{fake.url}/v1"}}
  fake-claude: {{kind: anthropic, base_url: "{fake.url}"}}
routes: [{{prefix: /v1, provider: fake-openai}}, {{prefix: /anthropic, provider: fake-claude}}]
"""
    with proxy_process(config, tmp_path_factory.mktemp("cfg"), workers=2) as proc:
        yield {"url": proc.url, "admin": proc.admin_url}


def test_metrics_after_sdk_traffic(served: dict) -> None:
    oa = openai.OpenAI(base_url=served["url"] + "/v1", api_key="sk", max_retries=0)
    for _ in range(6):
        oa.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    stream = oa.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    chunks = list(stream)
    assert all(c.usage is None for c in chunks)  # the injected usage chunk never reaches the SDK
    with pytest.raises(openai.RateLimitError):
        oa.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, extra_headers={"x-fake-error-status": "429"}
        )
    oa.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, extra_headers={"x-fake-refuse": "1"}
    )
    oa.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, response_format={"type": "json_object"}
    )
    claude = anthropic.Anthropic(base_url=served["url"] + "/anthropic", api_key="k", max_retries=0)
    message = claude.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=MESSAGES)

    text = scrape(served["admin"])
    call = {"rollout": "", "arm": "baseline", "role": "live", "provider": "fake-openai"}
    assert metric_sum(text, "llm_rollout_requests_total", model="gpt-4o-mini", **call) == 10
    assert metric_sum(text, "llm_rollout_errors_total", kind="upstream_429", **call) == 1
    assert metric_sum(text, "llm_rollout_refusals_total", **call) == 1
    assert metric_sum(text, "llm_rollout_json_checks_total", result="valid", **call) == 1
    assert metric_sum(text, "llm_rollout_ttft_seconds_count", **call) == 1  # the one stream
    assert metric_sum(text, "llm_rollout_usage_missing_total", **call) == 0
    assert metric_sum(text, "llm_rollout_cost_usd_total", **call) > 0
    claude_call = {**call, "provider": "fake-claude", "model": "claude-haiku-4-5"}
    assert metric_sum(text, "llm_rollout_tokens_total", type="output", **claude_call) == (
        message.usage.output_tokens
    )
    assert metric_sum(text, "llm_rollout_request_duration_seconds_count", **claude_call) == 1


def test_promtool_accepts_the_scrape(served: dict, tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: install Debian's prometheus package (bash .ci/test does)"
    text = scrape(served["admin"])
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
