"""`rollout pairs NAME` against a real proxy mirroring real SDK traffic to the fake provider."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator

import openai
import pytest

from proxy.fake_provider import build_app
from rollout.cli.pairs import last_question
from tests.proxy.shadow.test_mirror import wait_shadows
from tests.rollout.cli.test_admin import run
from tests.support.proxy import ServedProxy, cli_environment, serve_proxy_and_admin
from tests.support.servers import serve_in_thread

NAME = "cli-pairs"


@pytest.fixture(scope="module")
def served() -> Iterator[ServedProxy]:
    with serve_in_thread(build_app) as fake:
        config = f"""
providers: {{fake: {{base_url: {fake.url}/v1}}}}
routes: [{{prefix: /v1, provider: fake}}]
rollouts:
  - name: {NAME}
    candidate: {{model: cand, prompt: {{text: "Answer in French."}}}}
    shadow: {{share: 1, per: request, noise_share: 1, pairs: {{sample: 1}}, max_cpu: 1}}
"""
        with serve_proxy_and_admin(config) as served:
            client = openai.OpenAI(base_url=served.url + "/v1", api_key="k", max_retries=0)
            for i in range(4):
                client.chat.completions.create(
                    model="base",
                    messages=[{"role": "user", "content": f"call me on +44 20 7946 095{i}"}],
                )
            wait_shadows(NAME, 4)
            wait_reported(served)
            yield served


def wait_reported(served: ServedProxy) -> None:
    """Until the pairs are in the store's metric windows (flushed once a second)."""
    url = f"{served.admin_url}/v1/rollouts/{NAME}/shadow"
    deadline = time.monotonic() + 10
    while True:
        with urllib.request.urlopen(url, timeout=5) as answer:
            report = json.loads(answer.read())["report"]
        if report and report["error"]["candidate_pairs"] == 4:
            return
        assert time.monotonic() < deadline, f"report never complete: {report}"
        time.sleep(0.1)


def test_pairs_side_by_side_with_the_report(
    served: ServedProxy, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cli_environment(monkeypatch, served, "t")
    monkeypatch.setenv("COLUMNS", "100")
    code, out, err = run(capsys, "pairs", NAME, "--limit", "2")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == (
        f"{NAME}: mirroring 100% per request, noise 100%; queue 0 waiting, 0 running"
    )
    assert lines[2] == "comparisons over the last 1 h (95% intervals):"
    assert lines[3].split() == [
        "COMPARATOR",
        *["CANDIDATE", "DISAGREES", "BASELINE", "SELF", "(NOISE)", "ABOVE", "NOISE"],
    ]
    table = {line.split()[0]: line.split() for line in lines[4:10]}
    assert sorted(table) == ["error", "finish", "length", "refusal", "text", "tools"]
    # The fake answers the same request the same way: the baseline never disagrees with itself,
    # and a new prompt changes every answer's text (and nothing else).
    noise = ["0.0%", "[0.0%,", "49.0%]", "of", "4"]
    assert table["error"][1:] == [*noise, *noise, "+0.0%", "[-49.0%,", "+49.0%]"]
    assert table["text"][1:] == [
        "100.0%",
        "[51.0%,",
        "100.0%]",
        "of",
        "4",
        *noise,
        "+100.0%",
        "[+30.7%,",
        "+100.0%]",
    ]
    headers = [line for line in lines if line.startswith("pair ")]
    assert len(headers) == 2
    assert "asked: call me on [PHONE]" in out
    assert "live baseline: base" in out and "shadow candidate: cand" in out


def test_status_shows_the_mirroring(
    served: ServedProxy, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cli_environment(monkeypatch, served, "t")
    code, out, _ = run(capsys, "status")
    rows = dict(line.split(maxsplit=1) for line in out.splitlines()[1:] if line.strip())
    assert code == 0
    assert rows["shadow"] == "mirroring 100% per request, noise 100%; queue 0 waiting, 0 running"


def test_pairs_json_and_errors(
    served: ServedProxy, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cli_environment(monkeypatch, served, "t")
    code, out, _ = run(capsys, "pairs", NAME, "--json", "--limit", "10")
    body = json.loads(out)
    assert code == 0 and len(body["pairs"]) == 4
    assert body["report"]["error"]["noise_pairs"] == 4
    assert body["report"]["error"]["noise"]["value"] == 0.0
    code, _, err = run(capsys, "pairs", "nobody")
    assert code == 1 and "no rollout 'nobody'" in err


@pytest.mark.parametrize(
    ("request_doc", "expected"),
    [
        ({"messages": [{"role": "user", "content": "hi"}]}, "hi"),
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": "a"}]}]}, "a"),
        ({"input": "plain"}, "plain"),
        ({"input": [{"role": "assistant", "content": "x"}]}, None),
        ({"prompt": "completions"}, None),
        (None, None),
    ],
)
def test_last_question(request_doc: object, expected: str | None) -> None:
    assert last_question(request_doc) == expected
