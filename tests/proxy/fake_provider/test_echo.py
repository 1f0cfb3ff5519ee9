"""Echo mode and degrade_share: the rule itself, then through the three real wire formats."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import anthropic
import openai
import pytest

from proxy.fake_provider import FakeSettings, ModelBehaviour, build_app
from proxy.fake_provider.echo import degraded, echo_pieces, last_user_text
from tests.support.servers import RunningServer, serve_in_thread

QUESTION = "How do I update the card on my subscription?"
# Picked by the documented rule (checked below): at share 0.5 the first degrades, the second not.
DEGRADES = "Where is my package? I need a refund."
SURVIVES = "How do I update the card on my subscription?"


def test_last_user_text_across_shapes() -> None:
    chat = [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
    ]
    assert last_user_text(chat) == "a\nb"
    assert last_user_text("plain input") == "plain input"  # Responses `input` string
    items = [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
        {"type": "function_call_output", "call_id": "c1", "output": "42"},
    ]
    assert last_user_text(items) == "hi"
    image_only = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]
    assert last_user_text(image_only) is None
    assert last_user_text([{"role": "assistant", "content": "x"}]) is None
    assert last_user_text(None) is None


@pytest.mark.parametrize("text", ["one", "  two words\n", "a\n\nb  c ", "", "   ", "é ü"])
def test_echo_pieces_join_to_exactly_the_text(text: str) -> None:
    pieces = echo_pieces(text)
    assert "".join(pieces) == text
    assert len(pieces) == max(1, len(text.split()))


def test_degrade_rule_is_the_documented_hash() -> None:
    for i in range(200):
        text = f"question {i}"
        value = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") / 2**64
        for share in (0.0, 0.1, 0.5, 0.9, 1.0):
            assert degraded(text, share) == (value < share)
    assert degraded(DEGRADES, 0.5) and not degraded(SURVIVES, 0.5)


def test_degrade_share_is_the_share_of_distinct_questions() -> None:
    texts = [f"customer question number {i}" for i in range(4000)]
    for share in (0.1, 0.3, 0.75):
        observed = sum(degraded(t, share) for t in texts) / len(texts)
        assert abs(observed - share) < 0.03, share
    assert not any(degraded(t, 0.0) for t in texts)
    assert all(degraded(t, 1.0) for t in texts)


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    settings = FakeSettings(
        default=ModelBehaviour(echo=True, output_tokens=3),
        models={
            "worse": ModelBehaviour(degrade_share=0.5),
            "filler": ModelBehaviour(echo=False),
        },
    )
    with serve_in_thread(lambda: build_app(settings)) as srv:
        yield srv


@pytest.fixture
def oa(server: RunningServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.url + "/v1", api_key="sk-test", max_retries=0) as c:
        yield c


@pytest.fixture
def an(server: RunningServer) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=server.url, api_key="sk-ant", max_retries=0) as c:
        yield c


def chat(oa: openai.OpenAI, model: str, content: object, stream: bool = False) -> str:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": content}]
    if not stream:
        result = oa.chat.completions.create(model=model, messages=messages)
        assert result.usage is not None
        assert result.usage.completion_tokens == len(result.choices[0].message.content.split())
        return result.choices[0].message.content or ""
    chunks = oa.chat.completions.create(model=model, messages=messages, stream=True)
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


@pytest.mark.parametrize("stream", [False, True])
def test_openai_chat_echoes_string_and_parts(oa: openai.OpenAI, stream: bool) -> None:
    assert chat(oa, "gpt-4o-mini", QUESTION, stream) == QUESTION  # more than output_tokens words
    parts = [{"type": "text", "text": "Hello"}, {"type": "text", "text": "there  "}]
    assert chat(oa, "gpt-4o-mini", parts, stream) == "Hello\nthere  "
    assert chat(oa, "filler", QUESTION, stream) != QUESTION  # echo is a per-model setting


@pytest.mark.parametrize("stream", [False, True])
def test_openai_chat_degrades_the_hashed_share(oa: openai.OpenAI, stream: bool) -> None:
    assert chat(oa, "worse", SURVIVES, stream) == SURVIVES
    filler = chat(oa, "worse", DEGRADES, stream)
    assert filler != DEGRADES and "refund" not in filler and len(filler.split()) == 3
    # Same question, same outcome, whatever came before and whichever arm asks it.
    assert chat(oa, "gpt-4o-mini", DEGRADES, stream) == DEGRADES
    assert chat(oa, "worse", DEGRADES, stream) == filler


def test_openai_responses_echoes_input_string_and_items(oa: openai.OpenAI) -> None:
    assert oa.responses.create(model="gpt-4.1", input=QUESTION).output_text == QUESTION
    items = [
        {"role": "user", "content": "an earlier question"},
        {"role": "assistant", "content": "an answer"},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": QUESTION}]},
    ]
    plain = oa.responses.create(model="gpt-4.1", input=items)
    assert plain.output_text == QUESTION
    assert plain.usage is not None and plain.usage.output_tokens == len(QUESTION.split())
    with oa.responses.stream(model="gpt-4.1", input=items) as stream:
        deltas = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        final = stream.get_final_response()
    assert deltas == final.output_text == QUESTION
    degraded_answer = oa.responses.create(model="worse", input=DEGRADES).output_text
    assert degraded_answer != DEGRADES and len(degraded_answer.split()) == 3


def test_anthropic_messages_echo_plain_and_streamed(an: anthropic.Anthropic) -> None:
    messages = [{"role": "user", "content": [{"type": "text", "text": QUESTION}]}]
    plain = an.messages.create(model="claude-haiku-4-5", max_tokens=200, messages=messages)
    assert plain.content[0].text == QUESTION
    assert plain.stop_reason == "end_turn"
    with an.messages.stream(
        model="claude-haiku-4-5",
        max_tokens=200,
        system="Be brief.",
        messages=[{"role": "user", "content": QUESTION}],
    ) as stream:
        streamed = "".join(stream.text_stream)
    assert streamed == QUESTION
    worse = an.messages.create(
        model="worse", max_tokens=200, messages=[{"role": "user", "content": DEGRADES}]
    )
    assert worse.content[0].text != DEGRADES


def test_echo_still_obeys_max_tokens_and_leaves_tools_alone(oa: openai.OpenAI) -> None:
    messages = [{"role": "user", "content": QUESTION}]
    cut = oa.chat.completions.create(model="gpt-4o-mini", messages=messages, max_tokens=2)
    assert cut.choices[0].finish_reason == "length"
    assert cut.choices[0].message.content == "How do"
    tool = {"type": "function", "function": {"name": "lookup_order", "parameters": {}}}
    called = oa.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=[tool])
    assert called.choices[0].message.tool_calls[0].function.name == "lookup_order"
