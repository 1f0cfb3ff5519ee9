"""What the fake provider records, its `/_fake/*` endpoints, API-key checks and settings files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import aiohttp
import anthropic
import openai
import pytest
from pydantic import ValidationError

from proxy.fake_provider import (
    RECEIVED,
    STATS,
    FakeSettings,
    ModelBehaviour,
    build_app,
    load_settings,
)
from tests.support.servers import RunningServer, serve_in_thread

MESSAGES = [{"role": "user", "content": "hello"}]


@pytest.fixture
def server() -> Iterator[RunningServer]:
    with serve_in_thread(lambda: build_app(FakeSettings(record_limit=5))) as srv:
        yield srv


def test_records_what_the_upstream_received(server: RunningServer) -> None:
    with openai.OpenAI(base_url=server.url + "/v1", api_key="sk-injected", max_retries=0) as c:
        c.chat.completions.create(
            model="gpt-4o-mini",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
            extra_headers={"X-Trace": "abc"},
            extra_query={"tenant": "t1"},
        ).close()
    (record,) = server.app[RECEIVED]
    assert record.method == "POST"
    assert record.path == "/v1/chat/completions"
    assert record.query == {"tenant": "t1"}
    assert record.headers["authorization"] == "Bearer sk-injected"
    assert record.headers["x-trace"] == "abc"
    assert record.json["stream_options"] == {"include_usage": True}
    assert record.json["messages"] == MESSAGES
    assert b'"include_usage":true' in record.body.replace(b" ", b"")


async def test_fake_endpoints_list_and_clear(server: RunningServer) -> None:
    async with aiohttp.ClientSession(base_url=server.url) as http:
        for i in range(7):
            body = {"model": "m", "input": f"text {i}"}
            async with http.post("/v1/embeddings", json=body) as resp:
                assert resp.status == 200
        async with http.post("/v1/embeddings", data=b"not json") as resp:
            assert resp.status == 400
        async with http.get("/_fake/requests") as resp:
            records = await resp.json()
        assert len(records) == 5  # record_limit keeps the newest
        assert records[-1]["body"] == "not json" and records[-1]["json"] is None
        assert records[-2]["json"]["input"] == "text 6"
        async with http.get("/_fake/stats") as resp:
            stats = await resp.json()
        assert stats["started"] == 8 and stats["completed"] == 8 and stats["in_flight"] == 0
        async with http.delete("/_fake/requests") as resp:
            assert (await resp.json()) == {"cleared": 5}
        assert len(server.app[RECEIVED]) == 0
        async with http.delete("/_fake/stats") as resp:
            assert (await resp.json())["started"] == 0
        assert server.app[STATS]["started"] == 0


async def test_put_settings_changes_behaviour_at_runtime(server: RunningServer) -> None:
    body = {"model": "m", "messages": MESSAGES}
    async with aiohttp.ClientSession(base_url=server.url) as http:
        new = {"models": {"m": {"error_rate": 1.0, "error_status": 429}}}
        async with http.put("/_fake/settings", json=new) as resp:
            assert resp.status == 200
        async with http.post("/v1/chat/completions", json=body) as resp:
            assert resp.status == 429
            assert (await resp.json())["error"]["code"] == "rate_limit_exceeded"
        async with http.put("/_fake/settings", json={"default": {"latency": -1}}) as resp:
            assert resp.status == 400
        async with http.get("/_fake/settings") as resp:
            assert (await resp.json())["models"]["m"]["error_status"] == 429


async def test_unknown_route_is_a_provider_shaped_404(server: RunningServer) -> None:
    async with aiohttp.ClientSession(base_url=server.url) as http:
        async with http.post("/v1/nothing", json={}) as resp:
            assert resp.status == 404
            assert (await resp.json())["error"]["type"] == "invalid_request_error"
        async with http.get("/v1/nothing", headers={"anthropic-version": "2023-06-01"}) as resp:
            assert resp.status == 404
            assert (await resp.json())["error"]["type"] == "not_found_error"
        async with http.get("/v1/models", headers={"anthropic-version": "2023-06-01"}) as resp:
            assert "has_more" in await resp.json()
        async with http.get("/v1/models") as resp:
            assert (await resp.json())["object"] == "list"


def test_require_api_key() -> None:
    settings = FakeSettings(require_api_key="sk-right")
    with serve_in_thread(lambda: build_app(settings)) as server:
        url = server.url
        with openai.OpenAI(base_url=url + "/v1", api_key="sk-wrong", max_retries=0) as wrong:
            with pytest.raises(openai.AuthenticationError) as info:
                wrong.chat.completions.create(model="m", messages=MESSAGES)
            assert info.value.body["code"] == "invalid_api_key"
        with openai.OpenAI(base_url=url + "/v1", api_key="sk-right", max_retries=0) as right:
            assert right.chat.completions.create(model="m", messages=MESSAGES).choices
        with anthropic.Anthropic(base_url=url, api_key="sk-wrong", max_retries=0) as wrong_a:
            with pytest.raises(anthropic.AuthenticationError) as info_a:
                wrong_a.messages.create(model="c", max_tokens=10, messages=MESSAGES)
            assert info_a.value.body["error"]["type"] == "authentication_error"
        with anthropic.Anthropic(base_url=url, api_key="sk-right", max_retries=0) as right_a:
            assert right_a.messages.create(model="c", max_tokens=10, messages=MESSAGES).content
        assert server.app[RECEIVED][-1].headers["authorization"] == "Bearer sk-right"


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"x-api-key": "sk-right"}, 200),
        ({"x-api-key": "sk-wrong"}, 401),
        ({"authorization": "Bearer sk-right"}, 200),
        ({}, 401),
    ],
)
async def test_require_api_key_anthropic_headers(headers: dict[str, str], status: int) -> None:
    body = {"model": "c", "max_tokens": 10, "messages": MESSAGES}
    headers = {"anthropic-version": "2023-06-01", **headers}
    with serve_in_thread(lambda: build_app(FakeSettings(require_api_key="sk-right"))) as server:
        async with (
            aiohttp.ClientSession(base_url=server.url) as http,
            http.post("/v1/messages", json=body, headers=headers) as resp,
        ):
            assert resp.status == status
            if status == 401:
                assert (await resp.json())["error"]["type"] == "authentication_error"
        # x-api-key is Anthropic's header only: an OpenAI path wants the bearer form.
        async with (
            aiohttp.ClientSession(base_url=server.url) as http,
            http.post(
                "/v1/chat/completions",
                json={"model": "m", "messages": MESSAGES},
                headers={"x-api-key": "sk-right"},
            ) as resp,
        ):
            assert resp.status == 401


def test_load_settings_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "fake.yaml"
    path.write_text(
        "default:\n"
        "  ttft: 0.05\n"
        "  output_tokens: 32\n"
        "models:\n"
        "  candidate-model:\n"
        "    error_rate: 0.1\n"
        "    error_status: 429\n"
        "require_api_key: sk-demo\n"
    )
    settings = load_settings(path)
    assert settings.default.ttft == 0.05
    assert settings.require_api_key == "sk-demo"
    merged = settings.effective()["candidate-model"]
    assert (merged.error_rate, merged.error_status, merged.output_tokens) == (0.1, 429, 32)
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert load_settings(empty) == FakeSettings()
    bad = tmp_path / "bad.yaml"
    bad.write_text("default:\n  latencyy: 1\n")
    with pytest.raises(ValidationError, match="latencyy"):
        load_settings(bad)


def test_behaviour_validation() -> None:
    with pytest.raises(ValidationError):
        ModelBehaviour(error_rate=1.5)
    with pytest.raises(ValidationError):
        ModelBehaviour(output_tokens=0)
