"""`rollout status` and `rollout approve NAME --eval` on a rollout whose plan requires an eval,
against a real proxy's admin port: the evidence shown, a conditional pass accepted, a failed eval
overridden (audited with the reason, marked for extra monitoring)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from proxy.fake_provider import build_app
from rollout.cli import status as cli_status
from rollout.control.eval_evidence import record_eval
from tests.rollout.cli.test_admin import run
from tests.support.proxy import (
    APPROVER,
    OPERATOR,
    ROLE_TOKENS,
    ServedProxy,
    admin_request,
    cli_environment,
    openai_config,
    serve_proxy_and_admin,
)
from tests.support.servers import serve_in_thread

# The controller looks once (and holds: no eval recorded), then leaves it for an hour.
GATED = """
rollouts:
  - name: gated
    candidate: {model: cand}
    plan: {automatic: true, evaluation_interval: 3600, require_eval: {tier: prod}}
"""
AT = 1_765_000_000.0


@pytest.fixture
def served() -> Iterator[ServedProxy]:
    with serve_in_thread(build_app) as fake:
        config = openai_config(fake.url, GATED)
        with serve_proxy_and_admin(config, {"LLM_ROLLOUT_ADMIN_TOKENS": ROLE_TOKENS}) as served:
            yield served


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, served: ServedProxy) -> pytest.MonkeyPatch:
    monkeypatch.setattr(cli_status, "clock", lambda: AT + 250)
    return cli_environment(monkeypatch, served, OPERATOR)


def _record(served: ServedProxy, verdict: str) -> None:
    rollout = served.proxy.runtime.rollouts["gated"]  # type: ignore[union-attr]
    entry = {
        "version": rollout.version,
        "verdict": verdict,
        "tier": "prod",
        "dataset_digest": "c0ffee00112233445566",
        "gates": [],
        "by": "carol",
        "at": AT,
    }
    store = served.proxy.runtime.store  # type: ignore[union-attr]
    served.server.call(lambda: record_eval(store, "gated", entry, "carol"))


def _rows(capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    code, out, err = run(capsys, "status")
    assert (code, err) == (0, ""), err
    return dict(line.split(maxsplit=1) for line in out.splitlines()[1:] if line.strip())


def _json(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    return json.loads(run(capsys, "status", "--json")[1])["rollouts"][0]


def _held(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """Once the controller's first look wrote the pending state (weight 0)."""
    deadline = time.monotonic() + 5
    while True:
        entry = _json(capsys)
        if entry["source"] == "store" or time.monotonic() > deadline:
            return entry
        time.sleep(0.05)


def test_status_shows_the_evidence_and_approve_eval_lets_it_start(
    env: pytest.MonkeyPatch, served: ServedProxy, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = _held(capsys)
    assert (entry["phase"], entry["weight"]) == ("pending", 0.0)
    assert entry["eval"] == {
        "required": "prod",
        "standing": "missing",
        "verdict": None,
        "tier": None,
        "dataset_digest": None,
        "by": None,
        "at": None,
    }
    assert _rows(capsys)["eval"] == "required at prod, none recorded"
    code, _, err = run(capsys, "approve", "gated", "--eval", "--reason", "ok")
    assert (code, err) == (1, "rollout: error: token 'ops' has the role operator: this needs"
                               " approver (HTTP 403)\n")  # fmt: skip

    _record(served, "conditional_pass")
    assert _rows(capsys)["eval"] == (
        "conditional_pass at tier prod, dataset c0ffee001122, by carol,"
        " 2025-12-06T05:46:40Z (4m 10s ago); required at prod: conditional"
    )
    env.setenv("LLM_ROLLOUT_ADMIN_TOKEN", APPROVER)
    assert run(capsys, "approve", "gated", "--eval", "--reason", "known gap")[:2] == (
        0,
        "gated: pending at 0%\n",
    )
    assert _json(capsys)["approvals"] == ["eval"]

    _record(served, "fail")  # re-run, and failed: the conditional approval no longer counts
    assert run(capsys, "approve", "gated", "--eval", "--reason", "hotfix, eval flaky")[:2] == (
        0,
        "gated: pending at 0%, accepted eval_override (extra monitoring)\n",
    )
    assert _rows(capsys)["accepted"] == "eval_override (extra monitoring)"
    code, _, err = run(capsys, "approve", "gated", "--eval", "--reason", "again")
    assert err == "rollout: error: the eval is already overridden by an approver (HTTP 409)\n"

    out = run(capsys, "history", "gated", "--json")[1]
    people = [e for e in json.loads(out)["entries"] if e.get("by_hand")]
    assert [(e["actor"], e["reason"]) for e in people] == [
        ("boss (alice)", "known gap"),
        ("boss (alice)", "hotfix, eval flaky"),
    ]
    assert people[1]["reasons"][0].startswith("overrode the failed eval of version ")


def test_the_api_takes_one_approval_at_a_time(served: ServedProxy) -> None:
    body = {"reason": "x", "eval": True, "stage": 25}
    status, answer = admin_request(served, "/v1/rollouts/gated/approve", body, APPROVER)
    assert status == 400, answer
    assert "give one of gate, stage or eval" in answer["error"]["message"]
