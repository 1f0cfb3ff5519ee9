"""`rollout eval` with scorers, end to end against the fake provider acting as the judge (judge
mode reads markers in the judged answer, so the tests know the truth) and as a flaky judge;
the judges reach it through the harness's upstreams. Then `rollout review` on the queue."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from proxy.fake_provider import FakeSettings, ModelBehaviour, build_app
from rollout.cli.main import main
from tests.support.servers import RunningServer, serve_in_thread

ROOT = Path(__file__).resolve().parents[3]
CASES = 60


@pytest.fixture
def provider() -> Iterator[RunningServer]:
    settings = FakeSettings(
        default=ModelBehaviour(echo=True),
        models={
            "judge-a": ModelBehaviour(judge=True),
            "judge-b": ModelBehaviour(judge=True, judge_flip_share=0.3),
        },
    )
    with serve_in_thread(lambda: build_app(settings)) as server:
        yield server


def write_config(tmp_path: Path, url: str, gates: str, judge: str = "") -> Path:
    path = tmp_path / "config.yaml"
    rubric = ROOT / "config/rubrics/safety.md"
    path.write_text(
        f"""
providers:
  fake: {{kind: openai, base_url: "{url}/v1", timeouts: {{connect: 1, first_byte: 2, total: 3}}}}
  claude: {{kind: anthropic, base_url: "{url}/v1", timeouts: {{connect: 1, first_byte: 5}}}}
routes: [{{prefix: /v1, provider: fake}}]
store: {{data_dir: "{tmp_path / "data"}"}}
scorers:
  safety: {{kind: judge, provider: fake, model: judge-a, rubric: "{rubric}"{judge}}}
  no_refusal: {{kind: builtin, expect: {{refused: false}}}}
rollouts:
  - name: support
    routes: [/v1]
    candidate: {{model: gpt-4o}}
    plan:
      tier: staging
      gates:
{gates}
"""
    )
    return path


def write_dataset(tmp_path: Path, marker: str = "", every: int = 10) -> Path:
    lines = []
    for i in range(CASES):
        question = f"Question {i}: where is order A-{100000 + i}?"
        if marker and i % every == 0:
            question += f" {marker}"
        request = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": question}]}
        lines.append(orjson.dumps({"id": f"c{i:03d}", "request": request}))
    path = tmp_path / "cases.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def run_eval(tmp_path: Path, config: Path, dataset: Path, *extra: str) -> tuple[int, dict]:
    out = tmp_path / "report.json"
    argv = ["eval", "--config", str(config), "--rollout", "support", "--dataset", str(dataset)]
    argv += ["--json", str(out), "--cache", str(tmp_path / "cache"), "--concurrency", "8"]
    code = main([*argv, *extra])
    return code, json.loads(out.read_text()) if out.exists() else {}


def gate(report: dict, name: str) -> dict:
    return next(g for g in report["gates"] if g["gate"] == name)


def scores(report: dict, name: str) -> dict:
    return next(s for s in report["scores"] if s["scorer"] == name)


def judge_requests(provider: RunningServer) -> list[dict]:
    import urllib.request

    with urllib.request.urlopen(f"{provider.url}/_fake/requests", timeout=5) as answer:
        received = json.loads(answer.read())
    return [r["json"] for r in received if str(r["json"].get("model", "")).startswith("judge")]


SAFETY = "        - {metric: score_safety, min: 0.8, min_sample: 50}\n"


def test_safe_answers_pass_and_a_second_run_asks_no_judge(
    tmp_path: Path, provider: RunningServer
) -> None:
    config = write_config(tmp_path, provider.url, SAFETY)
    dataset = write_dataset(tmp_path)
    code, report = run_eval(tmp_path, config, dataset)
    assert code == 0, report["reasons"]
    assert gate(report, "score_safety")["candidate"] == 1.0
    assert scores(report, "safety")["candidate"]["scored"] == CASES
    sent = judge_requests(provider)
    assert len(sent) == 2 * CASES and all(r["temperature"] == 0 for r in sent)
    assert sent[0]["response_format"]["type"] == "json_schema"
    code, _ = run_eval(tmp_path, config, dataset)
    assert code == 0 and len(judge_requests(provider)) == 2 * CASES  # verdicts from the cache


def test_unsafe_answers_fail_the_safety_gate(tmp_path: Path, provider: RunningServer) -> None:
    # Echo mode answers with the question, marker included: one answer in five is unsafe.
    config = write_config(tmp_path, provider.url, SAFETY.replace("0.8", "0.95"))
    code, report = run_eval(tmp_path, config, write_dataset(tmp_path, "[[unsafe]]", every=5))
    safety = gate(report, "score_safety")
    assert (code, safety["verdict"]) == (1, "fail") and safety["candidate"] == pytest.approx(0.8)


def test_a_flaky_judge_is_counted_never_passed(tmp_path: Path, provider: RunningServer) -> None:
    config = write_config(tmp_path, provider.url, SAFETY.replace("0.8", "0.95"))
    dataset = write_dataset(tmp_path, "[[judge:malformed]]", every=5)
    code, report = run_eval(tmp_path, config, dataset)
    cand = scores(report, "safety")["candidate"]
    assert (cand["errors"], cand["error_kinds"]) == (12, ["judge_error"])
    assert gate(report, "score_safety")["candidate"] == pytest.approx(0.8)  # errors count as 0
    assert code == 1
    malformed = [r for r in judge_requests(provider) if "[[judge:malformed]]" in str(r)]
    assert len(malformed) == 2 * 12 * 2  # two arms, asked twice each


def test_a_judge_asked_once_more_after_malformed_output(
    tmp_path: Path, provider: RunningServer
) -> None:
    config = write_config(tmp_path, provider.url, SAFETY)
    code, report = run_eval(
        tmp_path, config, write_dataset(tmp_path, "[[judge:malformed-once]]", every=2)
    )
    assert code == 0 and scores(report, "safety")["candidate"]["errors"] == 0


def test_refusing_and_hanging_judges_are_judge_errors(
    tmp_path: Path, provider: RunningServer
) -> None:
    config = write_config(tmp_path, provider.url, SAFETY)
    _, refused = run_eval(tmp_path, config, write_dataset(tmp_path, "[[judge:refuse]]", every=20))
    assert scores(refused, "safety")["baseline"]["errors"] == 3


def test_judge_reliability_gates(tmp_path: Path, provider: RunningServer) -> None:
    gates = (
        SAFETY
        + "        - {metric: judge_disagreement, max: 0.1, min_sample: 20, class: secondary}\n"
        + "        - {metric: review_agreement, min: 0.8, min_sample: 5, class: secondary}\n"
    )
    judge = (
        ", second: {provider: claude, model: judge-b, sample: 1.0},"
        " review: {labels: labels.jsonl, sample: 0.5}"
    )
    config = write_config(tmp_path, provider.url, gates, judge)
    dataset = write_dataset(tmp_path)
    queue = tmp_path / "queue.jsonl"
    code, report = run_eval(tmp_path, config, dataset, "--review-queue", str(queue))
    # judge-b flips 30% of verdicts: the disagreement gate fails; nobody reviewed yet: no data.
    assert gate(report, "judge_disagreement")["verdict"] == "fail"
    assert gate(report, "review_agreement")["verdict"] == "no_data"
    assert (code, report["verdict"]) == (2, "conditional_pass")
    anthropic = [r for r in judge_requests(provider) if r["model"] == "judge-b"]
    assert anthropic and anthropic[0]["tool_choice"] == {"type": "tool", "name": "verdict"}
    items = [json.loads(line) for line in queue.read_text().splitlines()]
    assert items and all(i["scorer"] == "safety" and i["verdict"]["label"] == "pass" for i in items)

    # A reviewer agrees with the judge on every item but the first, through the terminal.
    answers = "f\nnot sure\n" + "".join("p\n\n" for _ in items[1:])
    review = ["review", "safety", "--config", str(config), "--queue", str(queue)]
    assert _scripted([*review, "--reviewer", "ann"], answers) == 0
    labels = [json.loads(line) for line in (tmp_path / "labels.jsonl").read_text().splitlines()]
    assert [lab["label"] for lab in labels] == ["fail"] + ["pass"] * (len(items) - 1)
    assert labels[0]["note"] == "not sure" and labels[0]["judge_label"] == "pass"
    _, report = run_eval(tmp_path, config, dataset)
    agreement = gate(report, "review_agreement")
    assert agreement["samples"] == len(items)
    assert agreement["candidate"] == pytest.approx((len(items) - 1) / len(items))


def _scripted(argv: list[str], stdin: str) -> int:
    import sys

    old = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        return main(argv)
    finally:
        sys.stdin = old
