"""Notifications (rollout/notify/): which audit entries become which events, a receiver that
fails, times out and recovers, signatures, once-only delivery, and only the leader sending."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import orjson
import pytest
from aiohttp import web

from rollout.config.notify import Receiver
from rollout.notify.events import event_of, text
from rollout.notify.notifier import Notifier
from rollout.notify.sender import SENT, deliver, signature
from rollout.store import open_store
from tests.support.servers import on_loopback


@pytest.mark.parametrize(
    ("action", "event"),
    [
        ("roll_back", "rollback"),
        ("rollback", "rollback"),
        ("await_approval", "approval_needed"),
        ("promote", "promotion"),
        ("complete", "completion"),
        ("kill", "kill_switch"),
        ("state_lost", "state_lost"),
        ("hold", None),
        ("set_flag", None),
    ],
)
def test_events_of_audit_actions(action: str, event: str | None) -> None:
    assert event_of({"action": action}) == event


def test_the_text_says_what_happened_with_the_failing_gates_numbers() -> None:
    entry = {
        "action": "roll_back",
        "rollout": "support",
        "reason": "error_rate failed 2 looks in a row",
        "gates": [
            {
                "gate": "error_rate",
                "verdict": "fail",
                "bound": "max_delta_to_baseline 0.01",
                "interval": {"low": 0.021, "high": 0.05},
            },
            {"gate": "latency_p95", "verdict": "pass", "bound": "max_ratio_to_baseline 1.2"},
        ],
    }
    assert text(entry, "rollback") == (
        "⏪ support rolled back: every replica serves the baseline. error_rate failed 2 looks"
        " in a row. Failing: error_rate (max_delta_to_baseline 0.01) [0.021, 0.05]."
    )
    waiting = {"action": "await_approval", "rollout": "r", "after": {"awaiting": "stage:25"}}
    assert "`rollout approve r --reason" in text(waiting, "approval_needed")


class Receiving:
    """A local webhook receiver scripted to fail, hang, then take what it is sent."""

    def __init__(self, script: list[str]) -> None:
        self.script, self.got, self.headers = list(script), [], []

    async def handle(self, request: web.Request) -> web.Response:
        step = self.script.pop(0) if self.script else "ok"
        if step == "hang":
            await asyncio.sleep(1)  # past the receiver timeout (0.3 s), and no longer
        if step == "500":
            return web.Response(status=500)
        body = await request.read()
        self.got.append(orjson.loads(body))
        self.headers.append(dict(request.headers))
        return web.Response(status=204)


@pytest.fixture
async def receiver(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Receiving, str]]:
    receiving = Receiving(getattr(request, "param", []))
    app = web.Application()
    app.router.add_post("/hook", receiving.handle)
    async with on_loopback(app) as url:
        yield receiving, f"{url}/hook"


@pytest.mark.parametrize("receiver", [["500", "hang", "500"]], indirect=True)
async def test_a_receiver_that_fails_times_out_and_recovers_gets_it_once_signed(
    receiver: tuple[Receiving, str],
) -> None:
    receiving, url = receiver
    hook = Receiver(name="hook", url=url, secret_env="SECRET", timeout=0.3)
    payload = {"event": "rollback", "id": "17-0", "text": "t", "entry": {}}
    async with aiohttp.ClientSession() as session:
        sent = await deliver(session, hook, payload, {"SECRET": "s3"}, first_backoff=0.01)
    assert sent and receiving.got == [payload]
    headers = receiving.headers[0]
    assert headers["x-llm-rollout-event-id"] == "17-0"
    stamp = int(headers["x-llm-rollout-signature"].split(",")[0][2:])
    body = orjson.dumps(payload)
    mac = hmac.new(b"s3", f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert (
        headers["x-llm-rollout-signature"] == signature("s3", stamp, body) == f"t={stamp},v1={mac}"
    )


@pytest.mark.parametrize("receiver", [["500"] * 100], indirect=True)
async def test_a_receiver_down_too_long_is_given_up_and_counted(
    receiver: tuple[Receiving, str],
) -> None:
    _, url = receiver
    hook = Receiver(name="down", url=url, give_up_after=0.2)
    before = SENT.labels("down", "rollback", "dropped")._value.get()
    async with aiohttp.ClientSession() as session:
        payload = {"event": "rollback", "id": "1"}
        assert not await deliver(session, hook, payload, {}, first_backoff=0.05)
    assert SENT.labels("down", "rollback", "dropped")._value.get() == before + 1


async def test_only_new_entries_once_and_only_by_the_leader(
    receiver: tuple[Receiving, str], tmp_path: Path
) -> None:
    receiving, url = receiver
    store = open_store(None, tmp_path)
    await store.audit.append({"action": "roll_back", "rollout": "old", "reason": "history"})
    leading = {"now": False}
    wanted = Receiver(name="a", url=url, events=["rollback", "completion"])
    notifier = Notifier(store, [wanted], lambda: leading["now"])
    try:
        assert await notifier.look() == 0  # what was there before is history
        await store.audit.append({"action": "roll_back", "rollout": "standby", "reason": "x"})
        assert await notifier.look() == 0  # not the leader: another process sends it
        leading["now"] = True
        await store.audit.append({"action": "roll_back", "rollout": "r", "reason": "errors"})
        await store.audit.append({"action": "promote", "rollout": "r", "reason": "gates"})
        await store.audit.append({"action": "complete", "rollout": "r", "reason": "baked"})
        assert await notifier.look() == 2  # the promotion was not asked for
        assert await notifier.look() == 0  # each entry once
        for _ in range(100):
            if len(receiving.got) == 2:
                break
            await asyncio.sleep(0.02)
        assert sorted(p["event"] for p in receiving.got) == ["completion", "rollback"]
        assert {p["entry"]["rollout"] for p in receiving.got} == {"r"}
    finally:
        await notifier.close()
        await store.close()
