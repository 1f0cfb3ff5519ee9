"""Runtime changes through the admin API, seen in the traffic they steer (embedded store)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest

from proxy.fake_provider import RECEIVED
from rollout.targeting.cohorts import bucket
from tests.support.proxy import (
    ADMIN_TOKEN as TOKEN,
)
from tests.support.proxy import (
    ROLLOUT_AND_FLAG,
    ServedProxy,
    admin_request,
    openai_config,
    serve_proxy_and_admin,
    serve_rollout_and_flag,
)
from tests.support.servers import RunningServer

SUBJECTS = [f"user-{i}" for i in range(40)]


@pytest.fixture(scope="module")
def served(fake: RunningServer) -> Iterator[ServedProxy]:
    with serve_rollout_and_flag(fake.url) as served:
        yield served


def _models_received(fake: RunningServer, client: openai.OpenAI) -> dict[str, str]:
    """The model the provider received for each subject, one call each."""
    received = fake.app[RECEIVED]  # type: ignore[index]
    out = {}
    for subject in SUBJECTS:
        received.clear()
        client.chat.completions.create(
            model="base", messages=[{"role": "user", "content": "hi"}], user=subject
        )
        out[subject] = received[-1].json["model"]
    return out


def _admin(served: ServedProxy, path: str, body: Any = None, token: str | None = TOKEN) -> Any:
    return admin_request(served, path, body, token)


@pytest.fixture
def client(served: ServedProxy) -> openai.OpenAI:
    return openai.OpenAI(base_url=served.url + "/v1", api_key="sk-x", max_retries=0)


def test_weight_kill_switch_and_rollback_steer_traffic(
    served: ServedProxy, fake: RunningServer, client: openai.OpenAI
) -> None:
    expected = {s: "cand" if bucket("r", s) < 0.5 else "base" for s in SUBJECTS}
    assert _models_received(fake, client) == expected

    status, body = _admin(served, "/v1/rollouts/r", {"killed": True, "reason": "bad answers"})
    assert (status, body["killed"]) == (200, True)
    assert set(_models_received(fake, client).values()) == {"base"}

    _admin(served, "/v1/rollouts/r", {"killed": False, "weight": 0.2, "reason": "slower"})
    # Weight down from 0.5 to 0.2: everyone who had the candidate keeps it, nobody new gets it.
    assert _models_received(fake, client) == expected

    status, body = _admin(served, "/v1/rollouts/r/rollback", {"reason": "gate failed"})
    assert (status, body["weight"], body["epoch"]) == (200, 0.0, 1)
    assert set(_models_received(fake, client).values()) == {"base"}

    status, body = _admin(served, "/v1/rollouts")
    assert body["rollouts"][0] | {"version": "-"} == {
        "name": "r",
        "version": "-",
        "weight": 0.0,
        "max_weight": 0.0,
        "killed": False,
        "epoch": 1,
        "source": "store",
        "automatic": False,
    }
    status, body = _admin(served, "/v1/audit?rollout=r")
    actions = [(e["action"], e["reason"], e["actor"]) for e in body["entries"]]
    assert actions == [
        ("kill", "bad answers", "admin"),
        ("unkill", "slower", "admin"),
        ("rollback", "gate failed", "admin"),
    ]
    rollback = body["entries"][-1]
    assert rollback["before"] == {"weight": 0.2, "max_weight": 0.5, "killed": False, "epoch": 0}
    assert rollback["after"] == {"weight": 0.0, "max_weight": 0.0, "killed": False, "epoch": 1}


def test_flag_switched_on_at_runtime(served: ServedProxy, client: openai.OpenAI) -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    ask = {"model": "base", "messages": [{"role": "user", "content": "hi"}], "tools": tools}
    client.chat.completions.create(**ask)  # flag off: served
    status, body = _admin(served, "/v1/flags/no-tools", {"enabled": True, "reason": "incident"})
    assert (status, body["override"]) == (200, {"enabled": True})
    with pytest.raises(openai.BadRequestError, match="tools are off"):
        client.chat.completions.create(**ask)
    _admin(served, "/v1/flags/no-tools", {"enabled": False, "reason": "over"})
    client.chat.completions.create(**ask)


@pytest.mark.parametrize(
    ("path", "body", "token", "status", "message"),
    [
        ("/v1/rollouts/r", {"weight": 0.1, "reason": "x"}, None, 401, "missing or wrong bearer"),
        ("/v1/rollouts/r", {"weight": 0.1, "reason": "x"}, "nope", 401, "missing or wrong bearer"),
        ("/v1/rollouts/r", {"weight": 1.5, "reason": "x"}, TOKEN, 400, "weight: Input should be"),
        ("/v1/rollouts/r", {"weight": 0.1}, TOKEN, 400, "reason: Field required"),
        ("/v1/rollouts/r", {"reason": "x"}, TOKEN, 400, "nothing to change"),
        ("/v1/rollouts/r", {"wieght": 0.1, "reason": "x"}, TOKEN, 400, "wieght: Extra inputs"),
        ("/v1/flags/no-tools", {"percent": 200, "reason": "x"}, TOKEN, 400, "percent: Input"),
    ],
)
def test_bad_changes_are_refused_with_a_clear_message(
    served: ServedProxy, path: str, body: Any, token: str | None, status: int, message: str
) -> None:
    got_status, got = _admin(served, path, body, token)
    assert got_status == status
    assert message in got["error"]["message"]


def test_unknown_rollout_and_flag_are_404(served: ServedProxy) -> None:
    status, body = _admin(served, "/v1/rollouts/zzz", {"weight": 0.1, "reason": "x"})
    assert (status, body["error"]["message"]) == (404, "no rollout named 'zzz'")
    status, body = _admin(served, "/v1/flags/zzz", {"enabled": True, "reason": "x"})
    assert (status, body["error"]["message"]) == (404, "no flag named 'zzz'")


def test_changes_are_refused_when_no_token_is_configured(fake: RunningServer) -> None:
    with serve_proxy_and_admin(openai_config(fake.url, ROLLOUT_AND_FLAG), {}) as served:
        status, body = _admin(served, "/v1/rollouts/r", {"weight": 0.1, "reason": "x"})
    assert status == 403
    assert body["error"]["message"] == (
        "changes are disabled: set LLM_ROLLOUT_ADMIN_TOKEN or LLM_ROLLOUT_ADMIN_TOKENS"
        " to enable them"
    )
