"""`rollout status` says why an automatic rollout holds: the controller's last look, every gate's
verdict and how many more candidate requests it needs, against a real proxy whose in-process
controller ramps real SDK traffic to the fake provider."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from proxy.fake_provider import build_app
from tests.rollout.cli.test_admin import run
from tests.support.proxy import ServedProxy, cli_environment, serve_proxy_and_admin
from tests.support.servers import serve_in_thread

NAME = "held"
# Half the subjects on the candidate at once; a stage far longer than the test, so it holds.
CONFIG = """
providers: {{fake: {{base_url: {url}/v1}}}}
routes: [{{prefix: /v1, provider: fake}}]
store: {{window_bucket_seconds: 1}}
rollouts:
  - name: {name}
    subject: [body:user]
    candidate: {{model: cand}}
    plan: {{automatic: true, stages: [50, 100], min_duration: 3600, evaluation_interval: 1}}
"""


@pytest.fixture(scope="module")
def served() -> Iterator[ServedProxy]:
    with (
        serve_in_thread(build_app) as fake,
        serve_proxy_and_admin(CONFIG.format(url=fake.url, name=NAME)) as served,
    ):
        _until(served, lambda e: e["phase"] == "ramping")
        time.sleep(1.1)  # the bucket the stage began in is not counted (it mixes weights)
        client = openai.OpenAI(base_url=served.url + "/v1", api_key="k", max_retries=0)
        for i in range(40):
            client.chat.completions.create(
                model="base", user=f"u{i}", messages=[{"role": "user", "content": "hi"}]
            )
        _until(served, lambda e: (e.get("look") or {}).get("candidate", {}).get("requests"))
        yield served


def _entry(served: ServedProxy) -> dict[str, Any]:
    with urllib.request.urlopen(f"{served.admin_url}/v1/rollouts", timeout=5) as answer:
        return json.loads(answer.read())["rollouts"][0]


def _until(served: ServedProxy, ready: Any) -> dict[str, Any]:
    deadline = time.monotonic() + 15
    while True:
        entry = _entry(served)
        if ready(entry):
            return entry
        assert time.monotonic() < deadline, f"never ready: {entry}"
        time.sleep(0.1)


def _rows(out: str) -> dict[str, str]:
    """Field -> value; fields may have a space (`gate error_rate`): columns are 2+ spaces apart."""
    pairs = (re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in out.splitlines()[1:])
    return {p[0]: p[1] for p in pairs if len(p) == 2}


def test_status_says_what_each_gate_still_needs(
    served: ServedProxy, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cli_environment(monkeypatch, served, "t")
    code, out, err = run(capsys, "status")
    assert (code, err) == (0, ""), err
    rows = _rows(out)
    assert re.fullmatch(
        r"hold, \S+Z \(\d+s ago\); \d+ candidate requests in \d+s \([\d.]+/min\)", rows["look"]
    ), rows["look"]
    for gate in ("error_rate", "latency_p95", "refusal_rate"):
        line = rows[f"gate {gate}"]
        found = re.fullmatch(
            r"no_data: candidate has (\d+) samples, needs 100; needs ~(\d+) more candidate"
            r" requests \(~[\d.]+ ?(s|min) at [\d.]+/min\)",
            line,
        )
        assert found, line
        # One sample per request; the baseline may be shorter still (its share of the traffic).
        assert int(found[1]) + int(found[2]) >= 100
    assert "held" not in rows  # not three times the stage's hour yet

    look = json.loads(run(capsys, "status", "--json")[1])["rollouts"][0]["look"]
    assert look["action"] == "hold" and look["phase"] == "ramping"
    gate = next(g for g in look["gates"] if g["gate"] == "error_rate")
    assert gate["verdict"] == "no_data" and gate["unobservable"] is None
    shortest = min(gate["samples"])
    assert gate["needs"]["requests"] >= 100 - shortest
