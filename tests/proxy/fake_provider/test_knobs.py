"""The fake provider's fault and timing knobs: settings and per-request `x-fake-*` headers."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import anthropic
import httpx2
import openai
import pytest

from proxy.fake_provider import STATS, FakeSettings, ModelBehaviour, build_app
from tests.support.servers import RunningServer, serve_in_thread

MESSAGES = [{"role": "user", "content": "hello"}]
SETTINGS = FakeSettings(
    default=ModelBehaviour(output_tokens=8),
    models={
        "broken-json": ModelBehaviour(invalid_json_rate=1.0),
        "flaky": ModelBehaviour(error_rate=0.5, error_status=503, seed=7),
        "slow": ModelBehaviour(latency=0.15),
        "always-refuses": ModelBehaviour(refusal_rate=1.0),
    },
)


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with serve_in_thread(lambda: build_app(SETTINGS)) as srv:
        yield srv


@pytest.fixture
def client(server: RunningServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.url + "/v1", api_key="sk-test", max_retries=0) as c:
        yield c


def wait_for(condition: Callable[[], bool], timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_override_merges_over_default() -> None:
    effective = SETTINGS.effective()
    assert effective["slow"].latency == 0.15
    assert effective["slow"].output_tokens == 8  # from the default, not ModelBehaviour's 16
    assert effective["flaky"].error_status == 503


def test_latency_setting_and_header(client: openai.OpenAI) -> None:
    start = time.monotonic()
    result = client.chat.completions.create(model="slow", messages=MESSAGES)
    assert 0.15 <= time.monotonic() - start < 2.0
    assert len(result.choices[0].message.content.split()) == 8
    start = time.monotonic()
    client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, extra_headers={"x-fake-latency": "0.1"}
    )
    assert 0.1 <= time.monotonic() - start < 2.0


def test_ttft_and_inter_chunk_timing(client: openai.OpenAI) -> None:
    start = time.monotonic()
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        stream=True,
        extra_headers={
            "x-fake-ttft": "0.2",
            "x-fake-inter-chunk": "0.05",
            "x-fake-output-tokens": "5",
        },
    )
    arrivals = [time.monotonic() - start for chunk in stream if chunk.choices[0].delta.content]
    assert len(arrivals) == 5
    # Lower bounds hold however late the client reads: chunk k cannot arrive before
    # ttft + k * inter_chunk (a little slack for timer granularity).
    for k, arrival in enumerate(arrivals):
        assert arrival >= 0.19 + k * 0.048
    assert arrivals[-1] < 3.0


def test_hang_makes_the_client_time_out(server: RunningServer, client: openai.OpenAI) -> None:
    stats = server.app[STATS]
    hung, cancelled = stats.hung, stats.cancelled
    start = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, extra_headers={"x-fake-hang": "1"}, timeout=0.3
        )
    assert time.monotonic() - start < 2.0
    assert stats.hung == hung + 1
    assert wait_for(lambda: stats.cancelled == cancelled + 1)  # the hung handler was cancelled


def test_hang_ends_when_client_leaves_even_without_handler_cancellation() -> None:
    with serve_in_thread(build_app, handler_cancellation=False) as server:
        stats = server.app[STATS]
        with openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0) as client:
            for headers, stream in (
                ({"x-fake-hang": "1"}, False),
                ({"x-fake-stall-after-chunks": "2"}, True),
            ):
                with pytest.raises(openai.APITimeoutError):
                    result = client.chat.completions.create(
                        model="m",
                        messages=MESSAGES,
                        stream=stream,
                        extra_headers=headers,
                        timeout=0.2,
                    )
                    list(result)
        assert stats.hung == 2
        assert wait_for(lambda: stats.cancelled == 2)
        assert stats.in_flight == 0


def test_stall_after_chunks_goes_silent(client: openai.OpenAI) -> None:
    received = []
    with pytest.raises(openai.APITimeoutError):
        stream = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=MESSAGES,
            stream=True,
            extra_headers={"x-fake-stall-after-chunks": "3"},
            timeout=0.3,
        )
        received.extend(stream)
    assert len(received) == 3


def test_reset_after_chunks_breaks_openai_stream(
    server: RunningServer, client: openai.OpenAI
) -> None:
    resets = server.app[STATS].resets
    received = []
    with pytest.raises(openai.APIConnectionError):
        stream = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=MESSAGES,
            stream=True,
            extra_headers={"x-fake-reset-after-chunks": "3"},
        )
        received.extend(stream)
    assert 0 < len(received) <= 3
    assert server.app[STATS].resets == resets + 1


def test_reset_after_chunks_breaks_anthropic_stream(server: RunningServer) -> None:
    # The anthropic SDK lets the transport's error through while iterating a stream.
    with (
        anthropic.Anthropic(base_url=server.url, api_key="k", max_retries=0) as client,
        pytest.raises((anthropic.APIConnectionError, httpx2.ReadError), match="reset"),
    ):
        stream = client.messages.create(
            model="claude-haiku-4-5",
            max_tokens=50,
            messages=MESSAGES,
            stream=True,
            extra_headers={"x-fake-reset-after-chunks": "4"},
        )
        list(stream)


def test_invalid_json_rate_one(client: openai.OpenAI) -> None:
    result = client.chat.completions.create(
        model="broken-json", messages=MESSAGES, response_format={"type": "json_object"}
    )
    with pytest.raises(json.JSONDecodeError):
        json.loads(result.choices[0].message.content)
    tool = {
        "type": "function",
        "function": {"name": "f", "parameters": {"type": "object", "properties": {}}},
    }
    called = client.chat.completions.create(model="broken-json", messages=MESSAGES, tools=[tool])
    with pytest.raises(json.JSONDecodeError):
        json.loads(called.choices[0].message.tool_calls[0].function.arguments)
    by_header = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        response_format={"type": "json_object"},
        extra_headers={"x-fake-invalid-json": "1"},
    )
    with pytest.raises(json.JSONDecodeError):
        json.loads(by_header.choices[0].message.content)
    valid = client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, response_format={"type": "json_object"}
    )
    assert isinstance(json.loads(valid.choices[0].message.content), dict)


def test_refusal_rate_one(client: openai.OpenAI) -> None:
    result = client.chat.completions.create(model="always-refuses", messages=MESSAGES)
    assert result.choices[0].message.content == "I'm sorry, but I can't help with that."


def _flaky_outcomes(url: str) -> list[int]:
    outcomes = []
    with openai.OpenAI(base_url=url + "/v1", api_key="k", max_retries=0) as client:
        for _ in range(24):
            try:
                client.chat.completions.create(model="flaky", messages=MESSAGES)
                outcomes.append(200)
            except openai.InternalServerError as exc:
                outcomes.append(exc.status_code)
    return outcomes


def test_error_rate_is_seeded_and_reproducible() -> None:
    with serve_in_thread(lambda: build_app(SETTINGS)) as first:
        outcomes = _flaky_outcomes(first.url)
        assert first.app[STATS].errors == outcomes.count(503)
    with serve_in_thread(lambda: build_app(SETTINGS)) as second:
        assert _flaky_outcomes(second.url) == outcomes
    assert set(outcomes) == {200, 503}


@pytest.mark.parametrize(
    ("status", "exc", "kind", "code"),
    [
        (429, openai.RateLimitError, "requests", "rate_limit_exceeded"),
        (500, openai.InternalServerError, "server_error", None),
        (400, openai.BadRequestError, "invalid_request_error", None),
    ],
)
def test_openai_error_status_header(
    client: openai.OpenAI, status: int, exc: type[openai.APIStatusError], kind: str, code: object
) -> None:
    with pytest.raises(exc) as info:
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=MESSAGES,
            extra_headers={"x-fake-error-status": str(status)},
        )
    assert info.value.status_code == status
    assert info.value.body["type"] == kind
    assert info.value.body["code"] == code
    assert info.value.body["param"] is None
    assert info.value.body["message"]


def test_malformed_knob_header_is_a_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="x-fake-latency"):
        client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, extra_headers={"x-fake-latency": "soon"}
        )


@pytest.mark.parametrize("handler_cancellation", [True, False])
def test_client_going_away_mid_stream_counts_as_cancelled(handler_cancellation: bool) -> None:
    with serve_in_thread(build_app, handler_cancellation=handler_cancellation) as server:
        stats = server.app[STATS]
        with openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0) as client:
            stream = client.chat.completions.create(
                model="gpt-4o-mini",
                messages=MESSAGES,
                stream=True,
                extra_headers={"x-fake-inter-chunk": "0.02", "x-fake-output-tokens": "200"},
            )
            chunks = iter(stream)
            for _ in range(3):
                next(chunks)
            stream.close()
        assert wait_for(lambda: stats.cancelled == 1)
        assert stats.completed == 0
        assert stats.started == 1
        assert stats.in_flight == 0
