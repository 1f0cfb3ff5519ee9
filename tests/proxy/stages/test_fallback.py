"""Provider fallback (proxy/stages/forward.py, proxy/breaker.py): a call whose provider fails
before the client saw a byte — refused, 5xx, 429, no first byte in time — is answered by the
next provider in order; never once the answer has started; a provider failing in a row is
skipped for a while; and a candidate's rescued call still counts against the candidate."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import aiohttp
import pytest

from proxy.fake_provider import FakeSettings, ModelBehaviour, build_app
from proxy.stages.forward import ANSWERED_BY
from tests.support.proxy import ServedProxy, serve_proxy_and_admin
from tests.support.servers import RunningServer, free_port, serve_in_thread

BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def backup() -> Iterator[RunningServer]:
    with serve_in_thread(build_app) as server:
        yield server


@pytest.fixture(scope="module")
def broken() -> Iterator[RunningServer]:
    """503 for model m, 429 for model limited, no first byte for model slow, a reset after two
    events for model cut."""
    settings = FakeSettings(
        models={
            "m": ModelBehaviour(error_rate=1.0, error_status=503),
            "limited": ModelBehaviour(error_rate=1.0, error_status=429),
            "slow": ModelBehaviour(hang=True),
            "cut": ModelBehaviour(reset_after_chunks=2),
        }
    )
    with serve_in_thread(lambda: build_app(settings)) as server:
        yield server


def config(primary: str, backup: str, extra: str = "", model: str = "backup-model") -> str:
    fallback = f"{{provider: backup, model: {model}}}" if model else "{provider: backup}"
    return f"""
providers:
  primary: {{base_url: "{primary}/v1", timeouts: {{connect: 1, first_byte: 0.5}}}}
  backup: {{base_url: "{backup}/v1"}}
routes: [{{prefix: /v1, provider: primary, fallbacks: [{fallback}]}}]
{extra}
"""


async def post(url: str, body: dict) -> tuple[int, dict[str, str], bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{url}/v1/chat/completions", json=body) as answer,
    ):
        return answer.status, dict(answer.headers), await answer.read()


def received(fake: RunningServer) -> list[dict]:
    import json
    import urllib.request

    with urllib.request.urlopen(f"{fake.url}/_fake/requests", timeout=5) as answer:
        return json.loads(answer.read())


def clear(fake: RunningServer) -> None:
    import urllib.request

    request = urllib.request.Request(f"{fake.url}/_fake/requests", method="DELETE")
    urllib.request.urlopen(request, timeout=5).close()


@pytest.mark.parametrize("model", ["m", "limited", "slow"])
async def test_a_failing_provider_is_rescued_by_the_next(
    broken: RunningServer, backup: RunningServer, model: str
) -> None:
    clear(backup)
    with serve_proxy_and_admin(config(broken.url, backup.url)) as served:
        status, headers, _ = await post(served.url, {**BODY, "model": model})
    assert status == 200 and headers[ANSWERED_BY] == "backup"
    [call] = received(backup)
    assert call["json"]["model"] == "backup-model"  # the fallback's own model


async def test_a_refused_connection_is_rescued(backup: RunningServer) -> None:
    with serve_proxy_and_admin(config(f"http://127.0.0.1:{free_port()}", backup.url)) as served:
        status, headers, _ = await post(served.url, BODY)
    assert status == 200 and headers[ANSWERED_BY] == "backup"


async def test_never_once_the_answer_has_started(
    broken: RunningServer, backup: RunningServer
) -> None:
    clear(backup)
    with (
        serve_proxy_and_admin(config(broken.url, backup.url)) as served,
        pytest.raises(aiohttp.ClientPayloadError),  # the cut answer is not completed
    ):
        await post(served.url, {**BODY, "model": "cut", "stream": True})
    assert received(backup) == []


async def test_a_healthy_provider_answers_without_the_header(backup: RunningServer) -> None:
    with serve_proxy_and_admin(config(backup.url, backup.url)) as served:
        status, headers, _ = await post(served.url, BODY | {"model": "fine"})
    assert status == 200 and ANSWERED_BY not in headers


async def test_a_provider_failing_in_a_row_is_skipped_for_a_while(
    broken: RunningServer, backup: RunningServer
) -> None:
    clear(broken)
    with serve_proxy_and_admin(config(broken.url, backup.url)) as served:
        for _ in range(10):
            status, _, _ = await post(served.url, BODY)
            assert status == 200
    assert len(received(broken)) == 5  # the breaker opened after five failures in a row


async def test_the_last_provider_answers_as_it_does(broken: RunningServer) -> None:
    """With every fallback down, the client gets the last provider's own answer."""
    dead = f"http://127.0.0.1:{free_port()}"
    with serve_proxy_and_admin(config(dead, broken.url, model="")) as served:
        status, _, _ = await post(served.url, BODY | {"model": "m"})
    assert status == 503


def _windows(served: ServedProxy, rollout: str) -> dict[str, float]:
    store = served.proxy.runtime.store  # type: ignore[union-attr]
    now = int(time.time())

    async def read() -> dict[str, float]:
        buckets = await store.metrics.read(rollout, now - 60, now + 60)
        totals: dict[str, float] = {}
        for fields in buckets.values():
            for key, value in fields.items():
                totals[key] = totals.get(key, 0) + value
        return totals

    return served.server.call(read)  # type: ignore[return-value]


async def test_a_rescued_candidate_call_counts_against_the_candidate(
    broken: RunningServer, backup: RunningServer
) -> None:
    """The user got an answer; the candidate's gates see an error (else a broken candidate whose
    calls a fallback answers would look healthy and ramp on)."""
    rollout = """
rollouts:
  - name: r
    weight: 1
    candidate: {model: m, fallbacks: [{provider: backup, model: rescued}]}
"""
    with serve_proxy_and_admin(config(broken.url, backup.url, rollout)) as served:
        status, headers, _ = await post(served.url, {**BODY, "model": "fine", "user": "u1"})
        await asyncio.sleep(1.5)  # the windows are flushed to the store once a second
        fields = _windows(served, "r")
    assert status == 200 and headers[ANSWERED_BY] == "backup"
    assert fields["candidate:live:requests"] == 1
    assert fields["candidate:live:errors"] == 1 and fields["candidate:live:errors:fallback"] == 1
