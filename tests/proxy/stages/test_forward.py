"""The forward stage against an upstream that misbehaves on cue: every failure becomes a clear
answer in the provider's shape, and a good answer arrives byte for byte."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Iterator

import aiohttp
import orjson
import pytest
from aiohttp import web
from yarl import URL

from tests.support.proxy import openai_config, serve_proxy
from tests.support.scripted_upstream import Scripts, garbage_server, unaccepting_port
from tests.support.servers import RunningServer, free_port, serve_in_thread

TIMEOUTS = "    timeouts: {connect: 0.5, first_byte: 0.5, idle: 0.4, total: 1.5}"


@pytest.fixture(scope="module")
def scripts() -> Scripts:
    return Scripts()


@pytest.fixture(scope="module")
def upstream(scripts: Scripts) -> Iterator[RunningServer]:
    with serve_in_thread(lambda: web.Server(scripts.handle, handler_cancellation=True)) as srv:
        yield srv


@pytest.fixture(scope="module")
def proxy(upstream: RunningServer) -> Iterator[RunningServer]:
    config = openai_config(upstream.url, provider=TIMEOUTS, extra="limits: {max_body_bytes: 65536}")
    with serve_proxy(config) as srv:
        yield srv


async def _post(url: str, **kwargs: object) -> tuple[int, dict, bytes]:
    async with aiohttp.ClientSession() as session, session.post(url, **kwargs) as resp:
        return resp.status, dict(resp.headers), await resp.read()


async def _sse_events(url: str) -> list[bytes]:
    """The events of a stream that the proxy cuts short: its connection ends without the body's
    end, so the client reports an incomplete payload after the last event."""
    body = b""
    async with aiohttp.ClientSession() as session, session.post(url, json={"stream": True}) as r:
        with pytest.raises(aiohttp.ClientPayloadError):
            async for chunk in r.content.iter_any():
                body += chunk
    return [event for event in body.split(b"\n\n") if event]


async def test_echo_forwards_method_path_query_and_body(proxy: RunningServer) -> None:
    status, _, body = await _post(
        URL(proxy.url + "/v1/echo/x?a=1&b=%2F", encoded=True),
        data=b'{"model": "m", "messages": []}',
        headers={"content-type": "application/json", "Host": "evil.example"},
    )
    seen = orjson.loads(body)
    assert status == 200
    assert seen["path_qs"] == "/v1/echo/x?a=1&b=%2F"
    assert seen["body"] == '{"model": "m", "messages": []}'
    assert seen["host"].startswith("127.0.0.1:")  # the Host header never picks the upstream


async def test_upstream_error_statuses_pass_through_unchanged(proxy: RunningServer) -> None:
    for code in (400, 401, 429, 500, 503):
        status, headers, body = await _post(proxy.url + f"/v1/status/{code}", json={})
        assert status == code
        assert headers["x-upstream"] == "yes"
        assert orjson.loads(body)["error"]["message"] == f"scripted {code}"


async def test_first_byte_timeout_is_504_in_openai_shape(proxy: RunningServer) -> None:
    started = time.monotonic()
    status, headers, body = await _post(proxy.url + "/v1/slow-headers", json={})
    assert status == 504
    assert time.monotonic() - started < 1.5
    assert headers["x-llm-rollout-error"] == "first_byte_timeout"
    assert orjson.loads(body) == {
        "error": {
            "message": "upstream first byte timeout after 0.5s",
            "type": "timeout_error",
            "param": None,
            "code": "first_byte_timeout",
        }
    }


async def test_idle_timeout_mid_stream_ends_with_an_error_event_and_a_cut(
    proxy: RunningServer,
) -> None:
    events = await _sse_events(proxy.url + "/v1/stall-stream")
    assert events[0] == b'data: {"n":1}'
    assert orjson.loads(events[-1].removeprefix(b"data: "))["error"]["code"] == "idle_timeout"


async def test_total_timeout_cuts_a_stream_that_never_idles(proxy: RunningServer) -> None:
    started = time.monotonic()
    events = await _sse_events(proxy.url + "/v1/drip")
    assert 1.4 < time.monotonic() - started < 2.5
    assert len(events) > 5
    assert orjson.loads(events[-1].removeprefix(b"data: "))["error"]["code"] == "total_timeout"


async def test_reset_mid_sse_stream_ends_with_an_error_event_and_a_cut(
    proxy: RunningServer,
) -> None:
    events = await _sse_events(proxy.url + "/v1/reset-sse")
    assert events[:2] == [b'data: {"n":1}', b'data: {"n":2}']
    error = orjson.loads(events[-1].removeprefix(b"data: "))["error"]
    assert error["code"] == "connection_reset"


async def test_reset_mid_body_is_never_passed_off_as_complete(proxy: RunningServer) -> None:
    with pytest.raises(aiohttp.ClientPayloadError):
        await _post(proxy.url + "/v1/reset-body", json={})


async def test_client_disconnect_cancels_the_upstream_request(
    proxy: RunningServer, scripts: Scripts
) -> None:
    scripts.cancelled.clear()
    async with (
        aiohttp.ClientSession() as session,
        session.post(proxy.url + "/v1/endless", json={"stream": True}) as resp,
    ):
        assert (await resp.content.readline()).startswith(b"data:")
    # leaving the block closed the connection mid-stream
    assert scripts.cancelled.wait(2), "upstream request still running after the client left"


async def test_large_bodies_stream_both_ways(upstream: RunningServer) -> None:
    upload = bytes(range(256)) * 40_000  # 10 MB, above the 256 KiB whole-body threshold
    config = openai_config(upstream.url, extra="limits: {max_body_bytes: 20000000}")
    with serve_proxy(config) as proxy:
        status, _, body = await _post(proxy.url + "/v1/echo/upload", data=upload)
        seen = orjson.loads(body)
        assert (status, seen["body_len"]) == (200, len(upload))
        assert seen["body_sha256"] == hashlib.sha256(upload).hexdigest()
        async with aiohttp.ClientSession() as session:
            url = proxy.url + "/v1/download?bytes=12000000"
            async with session.get(url) as resp:
                got = await resp.read()
        assert len(got) == 12_000_000
        assert got[:512] == bytes(range(256)) * 2


async def test_oversized_bodies_get_413(proxy: RunningServer) -> None:
    big = b"{" + b" " * 70_000 + b"}"
    status, _, body = await _post(proxy.url + "/v1/chat/completions", data=big)
    assert status == 413
    assert orjson.loads(body)["error"]["code"] == "request_too_large"

    async def chunked() -> object:  # no Content-Length: the limit is enforced while reading
        for _ in range(10):
            yield b" " * 10_000

    status, _, body = await _post(proxy.url + "/v1/chat/completions", data=chunked())
    assert status == 413
    status, _, _ = await _post(proxy.url + "/v1/echo/passthrough", data=chunked())
    assert status == 413


async def test_non_json_body_on_an_llm_route_is_forwarded_untouched(
    upstream: RunningServer, scripts: Scripts
) -> None:
    from prometheus_client import REGISTRY

    def malformed() -> float:
        value = REGISTRY.get_sample_value(
            "llm_rollout_malformed_requests_total", {"reason": "malformed_json"}
        )
        return value or 0.0

    before = malformed()
    with serve_proxy(openai_config(upstream.url)) as proxy:
        # /v1/echo/chat/completions is an LLM path: parsed, found broken, forwarded as is.
        status, _, body = await _post(
            proxy.url + "/v1/echo/chat/completions",
            data=b'{"model": "m", "messages": [',
        )
    assert status == 200
    assert orjson.loads(body)["body"] == '{"model": "m", "messages": ['
    assert malformed() == before + 1


async def _raw(port: int, target: bytes) -> bytes:
    """Send a request line exactly as given (HTTP clients normalise what we want to test)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET %s HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n" % target)
    answer = await reader.read()
    writer.close()
    return answer


async def test_absolute_form_targets_and_unknown_routes_get_404(proxy: RunningServer) -> None:
    answer = await _raw(proxy.port, b"http://example.com/v1/echo")
    assert answer.startswith(b"HTTP/1.1 404")
    assert b"not a proxy" in answer
    for target in (b"/v2/echo", b"/v1/../v1/echo", b"/v1/%2e%2e/v1/echo", b"/", b"/v1x"):
        assert (await _raw(proxy.port, target)).startswith(b"HTTP/1.1 404"), target
    assert (await _raw(proxy.port, b"/v1/echo")).startswith(b"HTTP/1.1 200")


async def test_anthropic_shaped_errors_for_anthropic_providers() -> None:
    config = f"""
providers:
  a: {{kind: anthropic, base_url: "http://127.0.0.1:{free_port()}"}}
routes: [{{prefix: /anthropic, provider: a}}]
"""
    with serve_proxy(config) as proxy:
        status, _, body = await _post(proxy.url + "/anthropic/v1/messages", json={"model": "c"})
    assert status == 502
    error = orjson.loads(body)
    assert error["type"] == "error" and error["error"]["type"] == "api_error"
    assert error["error"]["message"].startswith("cannot connect to upstream")


async def test_connect_refused_is_502_and_connect_timeout_is_504() -> None:
    with serve_proxy(openai_config(f"http://127.0.0.1:{free_port()}")) as proxy:
        status, headers, _ = await _post(proxy.url + "/v1/chat/completions", json={})
    assert (status, headers["x-llm-rollout-error"]) == (502, "connect_error")
    with (
        unaccepting_port() as port,
        serve_proxy(openai_config(f"http://127.0.0.1:{port}", provider=TIMEOUTS)) as proxy,
    ):
        started = time.monotonic()
        status, headers, _ = await _post(proxy.url + "/v1/chat/completions", json={})
    assert (status, headers["x-llm-rollout-error"]) == (504, "connect_timeout")
    assert time.monotonic() - started < 2


async def test_malformed_upstream_response_is_502() -> None:
    with garbage_server() as port, serve_proxy(openai_config(f"http://127.0.0.1:{port}")) as proxy:
        status, headers, _ = await _post(proxy.url + "/v1/chat/completions", json={})
    assert (status, headers["x-llm-rollout-error"]) == (502, "malformed_response")


async def test_configured_credentials_are_injected_and_never_logged(
    upstream: RunningServer, scripts: Scripts, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    config = openai_config(upstream.url, provider="    api_key_env: UPSTREAM_KEY")
    with serve_proxy(config, {"UPSTREAM_KEY": "sk-live-SECRET"}) as proxy:
        _, _, body = await _post(
            proxy.url + "/v1/echo/chat/completions",
            json={"model": "m"},
            headers={"authorization": "Bearer sk-client", "x-api-key": "sk-client"},
        )
        await _post(proxy.url + "/v1/slow-headers", json={})  # an error path, logged if at all
    headers = {k.lower(): v for k, v in orjson.loads(body)["headers"].items()}
    assert headers["authorization"] == "Bearer sk-live-SECRET"
    assert "x-api-key" not in headers
    assert "sk-live-SECRET" not in caplog.text and "sk-client" not in caplog.text


async def test_healthz_and_readyz(proxy: RunningServer) -> None:
    async with aiohttp.ClientSession() as session:
        for path in ("/healthz", "/readyz"):
            async with session.get(proxy.url + path) as resp:
                assert (resp.status, await resp.json()) == (200, {"status": "ok"})
