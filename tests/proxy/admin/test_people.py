"""People's actions on an automatic rollout through the real admin port: pause, resume, promote,
approve, roll back; roles (viewer < operator < approver); reads guarded off loopback."""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from rollout.control.apply import apply
from rollout.control.decide import Decision, RolloutState
from rollout.control.live_state import state_key
from tests.support.proxy import (
    APPROVER,
    OPERATOR,
    VIEWER,
    ServedProxy,
    admin_request,
    serve_automatic_rollout,
)
from tests.support.proxy_process import metric_sum
from tests.support.servers import RunningServer


@pytest.fixture
def served(fake: RunningServer) -> Iterator[ServedProxy]:
    with serve_automatic_rollout(fake.url) as served:
        _wait_until_started(served)
        yield served


def _wait_until_started(served: ServedProxy, seconds: float = 5.0) -> None:
    """The controller's first look starts the rollout at 1%, and the replica follows."""
    deadline = time.monotonic() + seconds
    while True:
        entry = _status(served)
        if (entry["phase"], entry["weight"]) == ("ramping", 0.01):
            return
        assert time.monotonic() < deadline, f"still {entry}"
        time.sleep(0.05)


def _status(served: ServedProxy, token: str | None = None) -> dict[str, Any]:
    status, body = admin_request(served, "/v1/rollouts", token=token)
    assert status == 200, body
    return body["rollouts"][0]


def _do(served: ServedProxy, action: str, token: str = OPERATOR, **body: Any) -> tuple[int, Any]:
    body = {"reason": f"test {action}", "actor": "alice"} | body
    return admin_request(served, f"/v1/rollouts/auto/{action}", body, token)


def _ok(served: ServedProxy, action: str, token: str = OPERATOR, **body: Any) -> dict[str, Any]:
    status, answer = _do(served, action, token, **body)
    assert status == 200, answer
    return answer


def _refused(served: ServedProxy, action: str, token: str = OPERATOR, **body: Any) -> str:
    status, answer = _do(served, action, token, **body)
    assert status == 409, answer
    return answer["error"]["message"]


def _view(entry: dict[str, Any]) -> tuple[Any, ...]:
    return entry["phase"], entry["stage"], entry["weight"], entry["awaiting"], entry["accepted"]


def test_pause_resume_promote_approve_and_roll_back(served: ServedProxy) -> None:
    assert _view(_status(served)) == ("ramping", 1, 0.01, None, [])
    assert _view(_ok(served, "pause")) == ("paused", 1, 0.01, None, [])
    assert _refused(served, "pause") == "already paused"
    assert _refused(served, "promote") == "paused: resume it first"
    assert _view(_ok(served, "resume")) == ("ramping", 1, 0.01, None, [])
    assert _refused(served, "resume") == "not paused (phase ramping): nothing to resume"

    assert _view(_ok(served, "promote")) == ("ramping", 5, 0.05, None, [])
    assert _refused(served, "promote") == (
        "entering 25% needs an approver first (approve --stage 25)"
    )
    assert _refused(served, "approve", APPROVER) == "nothing awaits approval"
    entry = _ok(served, "approve", APPROVER, stage=25)  # ahead of the ramp
    assert (entry["weight"], entry["approvals"]) == (0.05, ["stage:25"])
    assert _view(_ok(served, "promote")) == ("ramping", 25, 0.25, None, [])

    _controller_waits_for_gate(served, "refusal_rate")
    assert _refused(served, "promote").startswith("waiting for an approver to accept")
    assert _view(_ok(served, "approve", APPROVER, gate="refusal_rate")) == (
        "ramping",
        25,
        0.25,
        None,
        ["refusal_rate"],
    )
    assert _refused(served, "promote", full=True).startswith("entering 100% needs an approver")
    _ok(served, "approve", APPROVER, stage=100)
    assert _view(_ok(served, "promote", full=True)) == ("baking", 100, 1.0, None, ["refusal_rate"])

    status, entry = admin_request(served, "/v1/rollouts/auto/rollback", {"reason": "no"}, OPERATOR)
    assert (status, entry["phase"], entry["weight"], entry["epoch"]) == (200, "rolled_back", 0, 1)
    assert _refused(served, "promote") == "the rollout is rolled back: nothing to promote"

    status, body = admin_request(served, "/v1/audit?rollout=auto&limit=100")
    people = [e for e in body["entries"] if e.get("by_hand")]
    assert [(e["action"], e["actor"]) for e in people] == [
        ("pause", "ops (alice)"),
        ("resume", "ops (alice)"),
        ("promote", "ops (alice)"),
        ("approve", "boss (alice)"),
        ("promote", "ops (alice)"),
        ("approve", "boss (alice)"),
        ("approve", "boss (alice)"),
        ("promote", "ops (alice)"),
        ("roll_back", "ops"),
    ]
    accepted = people[5]
    assert accepted["reason"] == "test approve"
    assert "marked for extra monitoring" in accepted["reasons"][0]
    assert (accepted["before"]["phase"], accepted["after"]["phase"]) == (
        "awaiting_approval",
        "ramping",
    )
    full = people[7]
    assert (full["before"]["weight"], full["after"]["weight"]) == (0.25, 1.0)


def _controller_waits_for_gate(served: ServedProxy, gate: str) -> None:
    """Write what the controller writes when a secondary gate fails: await its approval."""
    proxy = served.proxy
    rollout = proxy.config.rollouts[0]

    async def ask() -> None:
        doc, _ = await proxy.runtime.store.documents.read(state_key("auto"))  # type: ignore[union-attr]
        state = RolloutState(
            rollout.version,
            "awaiting_approval",
            stage=doc["stage"],
            weight=doc["weight"],
            since=doc["since"],
            awaiting=f"gate:{gate}",
            approvals=frozenset(doc["approvals"]),
        )
        decision = Decision("await_approval", (f"secondary gate {gate} failed",), (), state)
        await apply(proxy.runtime.store, "auto", rollout.version, decision)  # type: ignore[union-attr]

    served.server.call(ask)
    assert _status(served)["awaiting"] == f"gate:{gate}"


@pytest.mark.parametrize(
    ("path", "body", "token", "status", "message"),
    [
        ("pause", {"reason": "x"}, None, 401, "missing or wrong bearer token"),
        (
            "pause",
            {"reason": "x"},
            VIEWER,
            403,
            "token 'watcher' has the role viewer: this needs operator",
        ),
        (
            "approve",
            {"reason": "x"},
            OPERATOR,
            403,
            "token 'ops' has the role operator: this needs approver",
        ),
        ("pause", {}, OPERATOR, 400, "reason: Field required"),
        ("promote", {"reason": "x", "full": "yes"}, OPERATOR, 400, "full: Input should be"),
        (
            "approve",
            {"reason": "x", "gate": "g", "stage": 25},
            APPROVER,
            400,
            "give one of gate, stage or eval",
        ),
        ("approve", {"reason": "x", "stage": 0}, APPROVER, 400, "stage: Input should be"),
        ("approve", {"reason": "x", "gate": "error_rate"}, APPROVER, 409, "primary gate"),
    ],
)
def test_refusals(
    served: ServedProxy, path: str, body: Any, token: str | None, status: int, message: str
) -> None:
    got, answer = admin_request(served, f"/v1/rollouts/auto/{path}", body, token)
    assert got == status, answer
    assert message in answer["error"]["message"]
    assert _status(served)["phase"] == "ramping"  # nothing changed


def test_unknown_rollout_is_404(served: ServedProxy) -> None:
    status, body = admin_request(served, "/v1/rollouts/zzz/pause", {"reason": "x"}, OPERATOR)
    assert (status, body["error"]["message"]) == (404, "no rollout named 'zzz'")


def test_an_operator_steers_by_hand_but_cannot_approve(served: ServedProxy) -> None:
    status, body = admin_request(
        served, "/v1/rollouts/auto", {"killed": True, "reason": "x"}, OPERATOR
    )
    assert (status, body["killed"]) == (200, True)
    status, _ = admin_request(served, "/v1/rollouts/auto", {"killed": True, "reason": "x"}, VIEWER)
    assert status == 403


def test_reads_need_a_viewer_off_loopback(fake: RunningServer) -> None:
    with serve_automatic_rollout(fake.url, admin_host="0.0.0.0") as served:
        for path in ("/v1/rollouts", "/v1/audit", "/metrics"):
            assert admin_request(served, path)[0] == 401, path
            assert admin_request(served, path, token="wrong")[0] == 401, path
        assert admin_request(served, "/v1/rollouts", token=VIEWER)[0] == 200
        assert admin_request(served, "/v1/audit", token=OPERATOR)[0] == 200
        assert admin_request(served, "/healthz")[0] == 200  # probes stay open
        metrics = _get_text(served, "/metrics", VIEWER)
        assert "llm_rollout_weight" in metrics


def test_reads_are_open_on_loopback_and_metrics_show_the_phase(served: ServedProxy) -> None:
    assert admin_request(served, "/v1/rollouts")[0] == 200
    text = _get_text(served, "/metrics", None)
    assert metric_sum(text, "llm_rollout_phase", rollout="auto", phase="ramping") == 1
    assert metric_sum(text, "llm_rollout_phase", rollout="auto", phase="paused") == 0
    assert metric_sum(text, "llm_rollout_decisions_total", rollout="auto", action="promote") >= 1
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: install Debian's prometheus package"
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _get_text(served: ServedProxy, path: str, token: str | None) -> str:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(served.admin_url + path, headers=headers)
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.read().decode()
