"""The fake provider's Responses API, embeddings and model list, through the openai SDK."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator

import openai
import pytest

from proxy.fake_provider import FakeSettings, ModelBehaviour, build_app
from tests.support.servers import RunningServer, serve_in_thread

TEXT_EVENTS = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    *["response.output_text.delta"] * 5,
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
]


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    settings = FakeSettings(models={"my-embedder": ModelBehaviour(embedding_dimensions=64)})
    with serve_in_thread(lambda: build_app(settings)) as srv:
        yield srv


@pytest.fixture
def client(server: RunningServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.url + "/v1", api_key="sk-test", max_retries=0) as c:
        yield c


def test_response_plain(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model="gpt-4.1", instructions="Be brief.", input="Tell me about canary releases"
    )
    assert response.object == "response"
    assert response.status == "completed"
    assert response.id.startswith("resp_")
    assert len(response.output_text.split()) == 16
    (item,) = response.output
    assert item.type == "message" and item.role == "assistant" and item.status == "completed"
    usage = response.usage
    assert usage.input_tokens == 7
    assert usage.output_tokens == 16
    assert usage.total_tokens == 23
    assert usage.input_tokens_details.cached_tokens == 0
    assert usage.output_tokens_details.reasoning_tokens == 0


def test_response_stream_events_in_order(client: openai.OpenAI) -> None:
    stream = client.responses.create(
        model="gpt-4.1",
        input="Tell me about canary releases",
        stream=True,
        extra_headers={"x-fake-output-tokens": "5"},
    )
    events = list(stream)
    assert [e.type for e in events] == TEXT_EVENTS
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    done = next(e for e in events if e.type == "response.output_text.done")
    assert done.text == deltas
    completed = events[-1].response
    assert completed.status == "completed"
    assert completed.output_text == deltas
    assert completed.usage.output_tokens == 5
    assert events[0].response.status == "in_progress"


def test_response_stream_helper_accumulates(client: openai.OpenAI) -> None:
    with client.responses.stream(model="gpt-4.1", input="Tell me about canary releases") as stream:
        deltas = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        final = stream.get_final_response()
    assert final.output_text == deltas
    assert len(deltas.split()) == 16


def test_response_incomplete_when_max_output_tokens_cuts(client: openai.OpenAI) -> None:
    plain = client.responses.create(model="gpt-4.1", input="Tell me", max_output_tokens=3)
    assert plain.status == "incomplete"
    assert plain.incomplete_details.reason == "max_output_tokens"
    assert len(plain.output_text.split()) == 3
    events = list(
        client.responses.create(model="gpt-4.1", input="Tell me", max_output_tokens=3, stream=True)
    )
    assert events[-1].type == "response.incomplete"
    assert events[-1].response.status == "incomplete"
    assert events[-1].response.output_text == plain.output_text


def test_response_function_call(client: openai.OpenAI) -> None:
    tool = {
        "type": "function",
        "name": "lookup",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}},
            "required": ["query", "limit"],
        },
    }
    response = client.responses.create(model="gpt-4.1", input="find it", tools=[tool])
    (call,) = response.output
    assert call.type == "function_call" and call.name == "lookup"
    assert set(json.loads(call.arguments)) == {"query", "limit"}
    events = list(client.responses.create(model="gpt-4.1", input="x", tools=[tool], stream=True))
    kinds = [e.type for e in events]
    assert "response.function_call_arguments.done" in kinds
    deltas = [e.delta for e in events if e.type == "response.function_call_arguments.delta"]
    assert set(json.loads("".join(deltas))) == {"query", "limit"}


def test_response_json_schema_format(client: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"verdict": {"type": "string", "enum": ["ship", "hold"]}},
        "required": ["verdict"],
        "additionalProperties": False,
    }
    response = client.responses.create(
        model="gpt-4.1",
        input="decide",
        text={"format": {"type": "json_schema", "name": "d", "schema": schema, "strict": True}},
    )
    assert json.loads(response.output_text)["verdict"] in ("ship", "hold")


def test_response_refusal_streamed(client: openai.OpenAI) -> None:
    events = list(
        client.responses.create(
            model="gpt-4.1", input="x", stream=True, extra_headers={"x-fake-refuse": "1"}
        )
    )
    refusal = "".join(e.delta for e in events if e.type == "response.refusal.delta")
    assert refusal == "I'm sorry, but I can't help with that."
    part = events[-1].response.output[0].content[0]
    assert part.type == "refusal" and part.refusal == refusal


def test_embeddings_sdk_default_base64_is_decoded(client: openai.OpenAI) -> None:
    result = client.embeddings.create(
        model="text-embedding-3-small", input=["first text", "second text"]
    )
    assert [d.index for d in result.data] == [0, 1]
    for item in result.data:
        assert len(item.embedding) == 1536
        assert all(isinstance(x, float) for x in item.embedding)
        assert math.isclose(math.fsum(x * x for x in item.embedding), 1.0, rel_tol=1e-4)
    assert result.data[0].embedding != result.data[1].embedding
    assert result.usage.prompt_tokens == 4
    floats = client.embeddings.create(
        model="text-embedding-3-small", input="first text", encoding_format="float"
    )
    assert floats.data[0].embedding == pytest.approx(result.data[0].embedding, rel=1e-6)


def test_embeddings_dimensions_param_and_per_model_default(client: openai.OpenAI) -> None:
    asked = client.embeddings.create(model="text-embedding-3-large", input="x", dimensions=256)
    assert len(asked.data[0].embedding) == 256
    configured = client.embeddings.create(model="my-embedder", input="x")
    assert len(configured.data[0].embedding) == 64


def test_models_list_includes_configured_models(client: openai.OpenAI) -> None:
    ids = [model.id for model in client.models.list()]
    assert "gpt-4o-mini" in ids and "my-embedder" in ids
    assert client.models.retrieve("gpt-4o").id == "gpt-4o"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


async def test_async_responses_and_embeddings(server: RunningServer) -> None:
    async with openai.AsyncOpenAI(
        base_url=server.url + "/v1", api_key="sk-test", max_retries=0
    ) as client:
        response = await client.responses.create(model="gpt-4.1", input="hello")
        stream = await client.responses.create(model="gpt-4.1", input="hello", stream=True)
        streamed = [event async for event in stream]
        assert streamed[-1].response.output_text == response.output_text
        vectors = await client.embeddings.create(model="text-embedding-3-small", input="hello")
        assert len(vectors.data[0].embedding) == 1536
