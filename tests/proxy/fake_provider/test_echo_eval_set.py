"""The demo eval set against the fake provider: echo passes every case, degrade_share fails
exactly the cases its hash picks (and about that share of them)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from proxy.fake_provider import FakeSettings, ModelBehaviour, build_app
from proxy.fake_provider.echo import degraded
from rollout.eval.answer import Answer
from rollout.eval.dataset import Case, load_dataset
from rollout.eval.expect import check_case
from tests.support.servers import serve_in_thread

DATASET = load_dataset(Path(__file__).resolve().parents[3] / "config/evals/support-v2.jsonl")
SHARE = 0.3


@pytest.fixture(scope="module")
def client() -> Iterator[openai.OpenAI]:
    settings = FakeSettings(
        default=ModelBehaviour(echo=True),
        models={"gpt-4o": ModelBehaviour(degrade_share=SHARE)},  # the demo's candidate model
    )
    with (
        serve_in_thread(lambda: build_app(settings)) as server,
        openai.OpenAI(base_url=server.url + "/v1", api_key="sk-test", max_retries=0) as c,
    ):
        yield c


def answer(client: openai.OpenAI, case: Case, model: str) -> Answer:
    result = client.chat.completions.create(**{**case.request, "model": model})
    message = result.choices[0].message
    calls = tuple((c.function.name, c.function.arguments) for c in message.tool_calls or ())
    return Answer(
        text=message.content,
        error=None,
        refused=message.refusal is not None,
        tool_calls=calls,
        output_tokens=result.usage.completion_tokens if result.usage else None,
    )


def failed_cases(client: openai.OpenAI, model: str) -> set[str]:
    return {
        case.id
        for case in DATASET
        if not all(r.passed for r in check_case(case.expect, answer(client, case, model)))
    }


def test_echo_passes_every_case_of_the_demo_set(client: openai.OpenAI) -> None:
    assert failed_cases(client, "gpt-4o-mini") == set()


def test_degrade_share_fails_the_hashed_cases(client: openai.OpenAI) -> None:
    echoed = [
        c
        for c in DATASET
        if c.expect is not None and c.expect.contains and "tools" not in c.request
    ]
    expected = {c.id for c in echoed if degraded(c.request["messages"][-1]["content"], SHARE)}
    assert failed_cases(client, "gpt-4o") == expected
    assert 0.2 < len(expected) / len(echoed) < 0.4
