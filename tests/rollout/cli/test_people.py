"""`rollout status|pause|resume|promote|approve|rollback` on an automatic rollout, against a real
proxy's admin port, with tokens that have roles."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from proxy.fake_provider import build_app
from rollout.cli import status as cli_status
from tests.rollout.cli.test_admin import run
from tests.support.proxy import (
    APPROVER,
    OPERATOR,
    VIEWER,
    ServedProxy,
    cli_environment,
    serve_automatic_rollout,
)
from tests.support.servers import serve_in_thread


@pytest.fixture
def served() -> Iterator[ServedProxy]:
    with (
        serve_in_thread(build_app) as fake,
        serve_automatic_rollout(fake.url, admin_host="0.0.0.0") as served,
    ):
        yield served


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, served: ServedProxy) -> pytest.MonkeyPatch:
    return cli_environment(monkeypatch, served, OPERATOR)


def _started(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    """The rollout once the controller's first look started it."""
    deadline = time.monotonic() + 5
    while True:
        code, out, err = run(capsys, "status", "--json")
        assert code == 0, err
        entry = json.loads(out)["rollouts"][0]
        if (entry["phase"], entry["weight"]) == ("ramping", 0.01) or time.monotonic() > deadline:
            return entry
        time.sleep(0.05)


def test_people_steer_the_ramp(env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert _started(capsys)["weight"] == 0.01
    assert run(capsys, "pause", "auto", "--reason", "look at the dashboards") == (
        0,
        "auto: paused at 1%\n",
        "",
    )
    assert run(capsys, "resume", "auto", "--reason", "fine")[:2] == (0, "auto: ramping at 1%\n")
    assert run(capsys, "promote", "auto", "--reason", "x")[:2] == (0, "auto: ramping at 5%\n")
    code, out, err = run(capsys, "promote", "auto", "--reason", "x")
    assert (code, out) == (1, "")
    assert err == (
        "rollout: error: entering 25% needs an approver first (approve --stage 25) (HTTP 409)\n"
    )
    code, _, err = run(capsys, "approve", "auto", "--stage", "25", "--reason", "ok")
    assert (code, err) == (1, "rollout: error: token 'ops' has the role operator: this needs"
                               " approver (HTTP 403)\n")  # fmt: skip

    env.setenv("LLM_ROLLOUT_ADMIN_TOKEN", APPROVER)
    assert run(capsys, "approve", "auto", "--stage", "25", "--reason", "ok")[:2] == (
        0,
        "auto: ramping at 5%\n",
    )
    assert run(capsys, "approve", "auto", "--stage", "100", "--reason", "ok")[0] == 0
    assert run(capsys, "promote", "auto", "--full", "--reason", "all in")[:2] == (
        0,
        "auto: baking at 100%\n",
    )

    env.setenv("LLM_ROLLOUT_ADMIN_TOKEN", VIEWER)  # reads off loopback need a viewer
    since = json.loads(run(capsys, "status", "--json")[1])["rollouts"][0]["since"]
    env.setattr(cli_status, "clock", lambda: since + 125)
    code, out, err = run(capsys, "status")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith("auto  (version ") and lines[0].endswith(", automatic)")
    fields = dict(line.split(maxsplit=1) for line in lines[1:10])
    assert {k: fields[k] for k in ("phase", "stage", "weight", "awaiting", "accepted")} == {
        "phase": "baking",
        "stage": "100%",
        "weight": "100% (max 100%)",
        "awaiting": "-",
        "accepted": "-",
    }
    assert fields["since"].endswith(" (2m 5s ago)")

    env.setenv("LLM_ROLLOUT_ADMIN_TOKEN", OPERATOR)
    assert run(capsys, "rollback", "auto", "--reason", "bad")[:2] == (
        0,
        "auto: weight 0% (max 0%), killed no, epoch 1 (rolled back)\n",
    )
    code, out, _ = run(capsys, "history", "auto", "--json")
    people = [e for e in json.loads(out)["entries"] if e.get("by_hand")]
    assert [(e["actor"], e["action"]) for e in people] == [
        ("ops (alice)", "pause"),
        ("ops (alice)", "resume"),
        ("ops (alice)", "promote"),
        ("boss (alice)", "approve"),
        ("boss (alice)", "approve"),
        ("boss (alice)", "promote"),
        ("ops (alice)", "roll_back"),
    ]
    code, out, _ = run(capsys, "history", "auto")
    assert out.splitlines()[-1].endswith("phase baking→rolled_back")


def test_reads_off_loopback_need_a_token(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env.delenv("LLM_ROLLOUT_ADMIN_TOKEN")
    code, out, err = run(capsys, "status")
    assert (code, out) == (1, "")
    assert err == (
        "rollout: error: missing or wrong bearer token (set LLM_ROLLOUT_ADMIN_TOKEN) (HTTP 401)\n"
    )


def test_watch_shows_the_status_again_until_interrupted(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 3:
            raise KeyboardInterrupt

    env.setattr(cli_status, "sleep", sleep)
    code, out, err = run(capsys, "status", "--watch", "2.5")
    assert (code, err, waits) == (0, "", [2.5, 2.5, 2.5])
    assert out.count("auto  (version ") == 3
    assert out.count("store: up") == 3
