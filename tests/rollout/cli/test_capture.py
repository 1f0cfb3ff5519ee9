"""`rollout capture NAME --out FILE`: kept shadow pairs of real SDK traffic become eval cases,
redacted, and `rollout eval` runs them (the round trip an eval set grows by)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from proxy.fake_provider import FakeSettings, ModelBehaviour, build_app
from rollout.cli.main import main
from rollout.eval.dataset import load_dataset
from tests.proxy.shadow.test_mirror import wait_shadows
from tests.rollout.cli.test_admin import run
from tests.support.proxy import ServedProxy, cli_environment, serve_proxy_and_admin
from tests.support.servers import serve_in_thread

NAME = "cli-capture"
CALLS = 12


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServedProxy, str]]:
    echo = FakeSettings(default=ModelBehaviour(echo=True))
    with serve_in_thread(lambda: build_app(echo)) as fake:
        config = f"""
providers: {{fake: {{base_url: {fake.url}/v1}}}}
routes: [{{prefix: /v1, provider: fake}}]
store: {{data_dir: "{tmp_path_factory.mktemp("data")}"}}
rollouts:
  - name: {NAME}
    candidate: {{model: cand, prompt: {{text: "Answer briefly."}}}}
    shadow: {{share: 1, per: request, pairs: {{sample: 1, keep: 50}}, max_cpu: 1}}
    plan:
      gates:
        - {{metric: error_rate, max_delta_to_baseline: 0.3, min_sample: {CALLS}}}
"""
        with serve_proxy_and_admin(config) as proxy:
            client = openai.OpenAI(base_url=proxy.url + "/v1", api_key="k", max_retries=0)
            for i in range(CALLS):
                content = f"question {i}: call me on +44 20 7946 09{i:02d}"
                client.chat.completions.create(
                    model="base", messages=[{"role": "user", "content": content}]
                )
            wait_shadows(NAME, CALLS)
            yield proxy, config


def test_capture_then_eval(
    served: tuple[ServedProxy, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    proxy, config = served
    cli_environment(monkeypatch, proxy, "t")
    out = tmp_path / "captured.jsonl"
    code, printed, err = run(capsys, "capture", NAME, "--out", str(out))
    assert (code, err) == (0, "")
    assert printed.startswith(f"{CALLS} cases appended to {out}")
    dataset = load_dataset(out)
    assert len(dataset.cases) == CALLS
    case = dataset.cases[0]
    assert case.id.startswith("captured-") and case.tags == ("captured", "baseline")
    assert case.api == "openai.chat" and case.expect is None
    asked = case.request["messages"][0]["content"]
    assert "[PHONE]" in asked and "7946" not in asked  # redacted as kept pairs are

    code, printed, _ = run(capsys, "capture", NAME, "--out", str(out))
    assert printed.startswith("0 cases appended")  # the same pairs are not added twice
    assert len(out.read_text().splitlines()) == CALLS

    config_file = tmp_path / "config.yaml"
    config_file.write_text(config)
    report = tmp_path / "report.json"
    argv = ["eval", "--config", str(config_file), "--rollout", NAME, "--dataset", str(out)]
    assert main([*argv, "--json", str(report), "--no-cache"]) == 0
    doc = json.loads(report.read_text())
    assert doc["run"]["calls"] == 2 * CALLS and doc["dataset"]["cases"] == CALLS
    assert [g["verdict"] for g in doc["gates"]] == ["pass"]
