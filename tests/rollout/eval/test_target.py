"""Where an eval sends its cases (rollout/eval/target.py) and what it expects to spend
(rollout/eval/estimate.py)."""

from __future__ import annotations

import pytest

from rollout.config import parse_config
from rollout.config.prices import price_table
from rollout.errors import EvalError
from rollout.eval.estimate import estimate_cost, output_limit
from rollout.eval.target import case_path, find_rollout

CONFIG = """
providers:
  oa: {kind: openai, base_url: "http://127.0.0.1:9/v1"}
  an: {kind: anthropic, base_url: "http://127.0.0.1:9"}
routes:
  - {prefix: /v1, provider: oa}
  - {prefix: /anthropic/, provider: an}
rollouts:
  - {name: everywhere, candidate: {model: gpt-4o}}
  - {name: openai-only, routes: [/v1], candidate: {model: gpt-4o}}
"""


@pytest.mark.parametrize(
    ("rollout", "api", "path"),
    [
        ("everywhere", "openai.chat", "/v1/chat/completions"),
        ("everywhere", "openai.responses", "/v1/responses"),
        ("everywhere", "anthropic.messages", "/anthropic/v1/messages"),
        ("openai-only", "openai.chat", "/v1/chat/completions"),
    ],
)
def test_case_paths(rollout: str, api: str, path: str) -> None:
    config = parse_config(CONFIG, "c.yaml")
    assert case_path(config, find_rollout(config, rollout), api) == path


def test_an_api_the_rollout_does_not_govern_and_an_unknown_rollout() -> None:
    config = parse_config(CONFIG, "c.yaml")
    with pytest.raises(EvalError, match="governs no route to an anthropic provider"):
        case_path(config, find_rollout(config, "openai-only"), "anthropic.messages")
    with pytest.raises(EvalError, match=r"no rollout named 'x' in the config \(rollouts: every"):
        find_rollout(config, "x")


@pytest.mark.parametrize(
    ("request_body", "limit"),
    [({"max_tokens": 50}, 50), ({"max_completion_tokens": 7, "max_tokens": 50}, 7), ({}, 1024)],
)
def test_output_limit(request_body: dict, limit: int) -> None:
    assert output_limit(request_body) == limit


def test_the_estimate_prices_each_arm_and_says_none_when_a_model_is_unpriced() -> None:
    config = parse_config(CONFIG, "c.yaml")
    rollout = find_rollout(config, "everywhere")
    prices = price_table(config)
    request = {"model": "gpt-4o-mini", "max_tokens": 1000, "messages": []}
    one = estimate_cost([request], rollout, prices, repeat=1)
    # the candidate (gpt-4o) costs far more than the baseline (gpt-4o-mini); both are counted
    assert one == pytest.approx(
        prices.cost("gpt-4o-mini", _usage(request)) + prices.cost("gpt-4o", _usage(request))
    )
    assert estimate_cost([request], rollout, prices, repeat=3) == pytest.approx(3 * one)
    assert estimate_cost([{**request, "model": "mystery"}], rollout, prices, 1) is None


def _usage(request: dict):  # type: ignore[no-untyped-def]
    import orjson

    from rollout.eval.estimate import CHARS_PER_TOKEN
    from rollout.quality.usage import Usage

    return Usage(input_tokens=len(orjson.dumps(request)) // CHARS_PER_TOKEN, output_tokens=1000)
