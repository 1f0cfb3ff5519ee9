"""`rollout eval` end to end: the command, the harness and the project's fake provider (echo
mode answers each question with itself, so expectations hold; `degrade_share` breaks a known
share of the candidate's answers). Exit codes: 0 pass, 1 fail, 2 conditional pass, 3 could not
evaluate."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree as ET

import orjson
import pytest

from proxy.fake_provider import FakeSettings, ModelBehaviour, build_app
from rollout.cli.main import main
from tests.support.servers import RunningServer, free_port, serve_in_thread

CASES = 120


def _settings(**candidate: object) -> FakeSettings:
    return FakeSettings(
        default=ModelBehaviour(echo=True),
        models={"gpt-4o": ModelBehaviour(echo=True, **candidate)},  # type: ignore[arg-type]
    )


@pytest.fixture
def provider(request: pytest.FixtureRequest) -> Iterator[RunningServer]:
    settings = getattr(request, "param", None) or _settings()
    with serve_in_thread(lambda: build_app(settings)) as server:
        yield server


def write_config(tmp_path: Path, url: str, plan: str = "") -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"""
providers:
  fake: {{kind: openai, base_url: "{url}/v1", timeouts: {{connect: 1, first_byte: 5}}}}
routes: [{{prefix: /v1, provider: fake}}]
store: {{data_dir: "{tmp_path / "data"}"}}
rollouts:
  - name: support
    routes: [/v1]
    candidate:
      model: gpt-4o
      prompt: {{text: "You are a helpful support agent.", mode: replace}}
    plan:
      tier: staging
{plan}
"""
    )
    return path


def write_dataset(tmp_path: Path, cases: int = CASES) -> Path:
    lines = []
    for i in range(cases):
        question = f"Question {i}: where is order A-{100000 + i}?"
        request = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": question}]}
        expect = {"contains": f"A-{100000 + i}"}
        lines.append(orjson.dumps({"id": f"c{i:03d}", "request": request, "expect": expect}))
    path = tmp_path / "cases.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def run_eval(tmp_path: Path, config: Path, *extra: str) -> tuple[int, dict]:
    out = tmp_path / "report.json"
    argv = ["eval", "--config", str(config), "--rollout", "support"]
    argv += ["--dataset", str(write_dataset(tmp_path)), "--json", str(out)]
    argv += ["--cache", str(tmp_path / "cache"), "--concurrency", "16", *extra]
    code = main(argv)
    return code, json.loads(out.read_text()) if out.exists() else {}


def gate(report: dict, name: str) -> dict:
    return next(g for g in report["gates"] if g["gate"] == name)


MIN_SAMPLE = "      gates:\n" + "".join(
    f"        - {{metric: {m}, {b}, min_sample: 100{c}}}\n"
    for m, b, c in (
        ("error_rate", "max_delta_to_baseline: 0.05", ""),
        ("refusal_rate", "max_delta_to_baseline: 0.05", ", class: secondary"),
        ("expect_pass_rate", "max_delta_to_baseline: 0.05", ""),
    )
)


def test_a_good_candidate_passes(tmp_path: Path, provider: RunningServer) -> None:
    md, junit = tmp_path / "r.md", tmp_path / "r.xml"
    config = write_config(tmp_path, provider.url, MIN_SAMPLE)
    code, report = run_eval(tmp_path, config, "--markdown", str(md), "--junit", str(junit))
    assert code == 0, report["reasons"]
    assert report["verdict"] == "pass" and report["run"]["calls"] == 2 * CASES
    assert gate(report, "expect_pass_rate")["candidate"] == 1.0
    assert md.read_text().startswith("### `rollout eval` support: ✅ **pass**")
    suite = ET.parse(junit).getroot()
    assert suite.get("tests") == "3" and suite.get("failures") == "0"
    sent = _requests(provider)
    seen = {name.lower() for r in sent for name in r["headers"]}
    assert not {h for h in seen if h.startswith("x-llm-rollout")}  # the eval's own headers
    candidate = [r for r in sent if r["json"]["model"] == "gpt-4o"]
    assert candidate[0]["json"]["messages"][0] == {
        "role": "system",
        "content": "You are a helpful support agent.",
    }  # the candidate's variant, applied by the proxy's own rewrite stage


@pytest.mark.parametrize("provider", [_settings(degrade_share=0.3)], indirect=True)
def test_a_worse_candidate_fails_naming_the_gate_and_its_numbers(
    tmp_path: Path, provider: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    md = tmp_path / "r.md"
    code, report = run_eval(
        tmp_path, write_config(tmp_path, provider.url, MIN_SAMPLE), "--markdown", str(md)
    )
    assert code == 1 and report["verdict"] == "fail"
    failed = gate(report, "expect_pass_rate")
    assert failed["verdict"] == "fail" and failed["tested"] == "baseline - candidate"
    assert 0.2 < failed["interval"]["value"] < 0.4 and failed["interval"]["low"] > 0.05
    assert failed["p_worse"] < 1e-6  # McNemar: nothing like this between equal arms
    assert report["reasons"][0].startswith("expect_pass_rate (primary, max_delta_to_baseline")
    assert "FAIL" in capsys.readouterr().out
    text = md.read_text()
    assert "Worst regressed cases (10 shown)" in text and "missing" not in report["reasons"][0]
    assert report["regressions"][0]["failed"][0].startswith("missing")


@pytest.mark.parametrize("provider", [_settings(refusal_rate=0.4)], indirect=True)
def test_a_secondary_gate_failing_is_a_conditional_pass(
    tmp_path: Path, provider: RunningServer
) -> None:
    # Refused answers fail their expectations too: here only refusals are gated, as secondary.
    plan = MIN_SAMPLE.split("        - {metric: expect_pass_rate")[0]
    code, report = run_eval(tmp_path, write_config(tmp_path, provider.url, plan))
    refusals = gate(report, "refusal_rate")
    assert (code, report["verdict"]) == (2, "conditional_pass"), report["reasons"]
    assert refusals["verdict"] == "fail" and refusals["class"] == "secondary"


@pytest.mark.parametrize("provider", [_settings(degrade_share=0.3)], indirect=True)
def test_repeats_tell_the_candidates_change_from_the_baselines_own_noise(
    tmp_path: Path, provider: RunningServer
) -> None:
    config = write_config(tmp_path, provider.url, MIN_SAMPLE)
    code, report = run_eval(tmp_path, config, "--repeat", "2")
    assert code == 1 and report["run"]["calls"] == 4 * CASES
    assert report["run"]["cache_hits"] == 0  # a repeat is asked again, not read from the cache
    noise = report["noise"]
    assert noise["baseline_self"]["rate"] == 0.0  # the fake answers a question the same way
    assert 0.2 < noise["between_arms"]["rate"] < 0.4
    assert gate(report, "expect_pass_rate")["p_worse"] is None  # averaged repeats: bootstrap


def test_too_few_cases_for_a_primary_gate_is_could_not_tell(
    tmp_path: Path, provider: RunningServer
) -> None:
    config = write_config(
        tmp_path, provider.url, MIN_SAMPLE.replace("min_sample: 100", "min_sample: 500")
    )
    code, report = run_eval(tmp_path, config)
    assert (code, report["verdict"]) == (3, "could_not_tell")
    assert gate(report, "error_rate")["verdict"] == "no_data"


def test_the_cost_cap_stops_the_run_and_reports_what_was_done(
    tmp_path: Path, provider: RunningServer
) -> None:
    code, report = run_eval(
        tmp_path, write_config(tmp_path, provider.url, MIN_SAMPLE), "--max-cost", "0.0000001"
    )
    assert (code, report["verdict"]) == (3, "could_not_tell")
    assert report["run"]["stopped"].startswith("cost cap reached")
    assert 0 < report["run"]["calls"] < 2 * CASES


def test_an_unreachable_provider_cannot_be_evaluated(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"http://127.0.0.1:{free_port()}", MIN_SAMPLE)
    code, report = run_eval(tmp_path, config)
    assert (code, report["verdict"]) == (3, "could_not_tell")
    assert "cannot be reached" in report["run"]["stopped"]
    assert report["run"]["calls"] < 2 * CASES  # it stopped early instead of trying every case


def test_a_second_run_of_unchanged_arms_sends_nothing(
    tmp_path: Path, provider: RunningServer
) -> None:
    config = write_config(tmp_path, provider.url, MIN_SAMPLE)
    first_code, first = run_eval(tmp_path, config)
    received = len(_requests(provider))
    second_code, second = run_eval(tmp_path, config)
    assert len(_requests(provider)) == received  # nothing new reached the provider
    assert second["run"]["cache_hits"] == 2 * CASES and first["run"]["cache_hits"] == 0
    assert (first_code, second_code) == (0, 0)
    assert gate(second, "expect_pass_rate") == gate(first, "expect_pass_rate")


@pytest.mark.parametrize(
    "provider", [_settings(error_rate=0.3, error_status=429, seed=7)], indirect=True
)
def test_a_429_is_retried_and_never_cached(tmp_path: Path, provider: RunningServer) -> None:
    config = write_config(tmp_path, provider.url, MIN_SAMPLE)
    _, first = run_eval(tmp_path, config)
    sent = len(_requests(provider))
    failed = first["arms"]["candidate"]["errors"]
    # 30% of calls get a 429: without retries about 36 of 120 would fail; after three retries
    # a call fails only when four draws in a row do (0.8%).
    assert sent > 2 * CASES and failed <= 5
    _, second = run_eval(tmp_path, config)
    assert second["run"]["cache_hits"] == 2 * CASES - failed  # the failures were not kept
    assert len(_requests(provider)) > sent or failed == 0


def test_a_malformed_dataset_refuses_to_start(
    tmp_path: Path, provider: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset = tmp_path / "bad.jsonl"
    dataset.write_text('{"id": "a", "request": {"messages": []}}\n{"id": "a"\n')
    argv = ["eval", "--config", str(write_config(tmp_path, provider.url)), "--rollout", "support"]
    assert main([*argv, "--dataset", str(dataset)]) == 3
    err = capsys.readouterr().err
    assert f"{dataset}: line 1: request" in err and f"{dataset}: line 2: not valid JSON" in err
    assert _requests(provider) == []


def _requests(provider: RunningServer) -> list:
    import urllib.request

    with urllib.request.urlopen(f"{provider.url}/_fake/requests", timeout=5) as answer:
        return json.loads(answer.read())
