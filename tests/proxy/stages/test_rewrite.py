"""The rewrite stage on an Exchange: which arm's variant, what changes, what is noted.

Then end to end: what the provider receives through a real proxy, driven by the official SDKs.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from operator import attrgetter
from typing import Any

import anthropic
import openai
import pytest
from aiohttp.test_utils import make_mocked_request
from prometheus_client import REGISTRY

from proxy.cohorts.compiled import CompiledRollout, compile_rollout
from proxy.exchange import Exchange
from proxy.fake_provider import RECEIVED
from proxy.stages.rewrite import Rewrite
from proxy.upstream import Upstream
from rollout.config import Provider
from rollout.config.rollouts import Rollout
from tests.support.proxy import serve_proxy, two_fakes_config
from tests.support.servers import RunningServer

UPSTREAMS = {
    name: Upstream(name, Provider(kind="openai", base_url=f"http://{name}.test/v1"), {})
    for name in ("route-provider", "other")
}
CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
PROMPT = {"text": "Be brief.", "mode": "replace"}


def _rollout(candidate: dict[str, Any], baseline: dict[str, Any] | None = None) -> CompiledRollout:
    doc = {"name": "r", "weight": 1.0, "candidate": candidate, "baseline": baseline or {}}
    return compile_rollout(Rollout.model_validate(doc), UPSTREAMS)


def _exchange(
    api: str | None, payload: dict[str, Any] | None, governing: CompiledRollout | None
) -> Exchange:
    ex = Exchange(make_mocked_request("POST", "/v1/x"), [])
    ex.api, ex.payload, ex.governing, ex.arm = api, copy.deepcopy(payload), governing, "candidate"
    ex.model = payload.get("model") if payload else None
    ex.upstream = UPSTREAMS["route-provider"]
    return ex


def _chat(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(CHAT), **changes}


SYS_BRIEF = {"role": "system", "content": "Be brief."}

# (candidate variant, api, request payload, payload forwarded, payload_changed, notes)
CASES = [
    ({}, "openai.chat", CHAT, CHAT, False, set()),
    ({"model": "gpt-4o-mini"}, "openai.chat", CHAT, _chat(model="gpt-4o-mini"), True, set()),
    ({"model": "gpt-4o"}, "openai.chat", CHAT, CHAT, False, set()),
    ({"params": {"temperature": 0.2}}, "openai.chat", CHAT, _chat(temperature=0.2), True, set()),
    (
        {"prompt": PROMPT},
        "openai.chat",
        CHAT,
        _chat(messages=[SYS_BRIEF, *CHAT["messages"]]),
        True,
        set(),
    ),
    (
        {"prompt": PROMPT},
        "openai.completions",
        {"model": "m", "prompt": "Say hi"},
        {"model": "m", "prompt": "Say hi"},
        False,
        {"prompt_not_applicable"},
    ),
    (
        {"model": "n", "prompt": PROMPT},
        "openai.embeddings",
        {"model": "m", "input": "x"},
        {"model": "n", "input": "x"},
        True,
        {"prompt_not_applicable"},
    ),
    # The prompt is applied after the params, so it wins over a param on the same field.
    (
        {"params": {"instructions": "from params"}, "prompt": PROMPT},
        "openai.responses",
        {"model": "m", "input": "hi"},
        {"model": "m", "input": "hi", "instructions": "Be brief."},
        True,
        set(),
    ),
]


def _not_applied() -> float:
    labels = {"rollout": "r", "arm": "candidate"}
    return REGISTRY.get_sample_value("llm_rollout_prompt_not_applied_total", labels) or 0.0


@pytest.mark.parametrize(("variant", "api", "before", "after", "changed", "notes"), CASES)
async def test_rewrite_applies_the_candidate(
    variant: dict, api: str, before: dict, after: dict, changed: bool, notes: set[str]
) -> None:
    ex = _exchange(api, before, _rollout(variant))
    counted = _not_applied()
    await Rewrite()(ex)
    assert ex.payload == after
    assert ex.payload_changed is changed
    assert ex.notes == notes
    assert _not_applied() - counted == (1 if notes else 0)
    assert ex.model == after.get("model")
    assert ex.upstream is UPSTREAMS["route-provider"]


@pytest.mark.parametrize(
    ("arm", "model", "upstream"),
    [("baseline", "base-model", "route-provider"), ("candidate", "cand-model", "other")],
)
async def test_rewrite_serves_the_assigned_arm(arm: str, model: str, upstream: str) -> None:
    rollout = _rollout({"model": "cand-model", "provider": "other"}, {"model": "base-model"})
    ex = _exchange("openai.chat", CHAT, rollout)
    ex.arm = arm
    await Rewrite()(ex)
    assert (ex.payload or {})["model"] == ex.model == model
    assert ex.upstream is UPSTREAMS[upstream]


@pytest.mark.parametrize(
    ("api", "payload", "governed"),
    [
        ("openai.chat", CHAT, False),  # no rollout governs the request
        (None, None, True),  # passthrough body: nothing to rewrite
        ("openai.chat", None, True),  # malformed JSON: the provider's own error
    ],
)
async def test_rewrite_leaves_ungoverned_and_unparsed_requests(
    api: str | None, payload: dict | None, governed: bool
) -> None:
    rollout = _rollout({"model": "n", "provider": "other", "prompt": PROMPT})
    ex = _exchange(api, payload, rollout if governed else None)
    await Rewrite()(ex)
    assert ex.payload == payload
    assert not ex.payload_changed and not ex.notes
    assert ex.upstream is UPSTREAMS["route-provider"]


# End to end: a real proxy in front of the fake provider, driven by the official SDKs, with every
# subject on the candidate (weight 1.0). Each rollout governs one family of requested models.
PROMPT_FILE = "You are Acme's support assistant.\nAnswer in two sentences at most.\n"
TEXT = PROMPT_FILE.strip()
PIRATE, FRENCH = "You are a pirate.", "Reply in French."
CACHED = {"type": "ephemeral"}


def _candidate(model: str, mode: str, temperature: float) -> str:
    prompt = f"{{file: prompts/support.md, mode: {mode}}}"
    return f"{{model: {model}, prompt: {prompt}, params: {{temperature: {temperature}}}}}"


@pytest.fixture(scope="module")
def proxy(
    fake: RunningServer, other: RunningServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    base = tmp_path_factory.mktemp("rewrite")
    (base / "prompts").mkdir()
    (base / "prompts" / "support.md").write_text(PROMPT_FILE)
    rollouts = [
        ("/v1", "replace-*", _candidate("gpt-4o-mini", "replace", 0.2)),
        ("/v1", "prepend-*", _candidate("gpt-4o-mini", "prepend", 0.5)),
        ("/v1", "switch-*", "{provider: other, model: gpt-4o-mini}"),
        ("/anthropic", "claude-replace-*", _candidate("claude-haiku-4-5", "replace", 0.2)),
        ("/anthropic", "claude-prepend-*", _candidate("claude-haiku-4-5", "prepend", 0.5)),
    ]
    config = (
        two_fakes_config(fake.url, other.url)
        + """
rollouts:
"""
        + "".join(
            f"  - {{name: r{i}, routes: [{route}], models: ['{glob}'], weight: 1.0,"
            f" candidate: {candidate}}}\n"
            for i, (route, glob, candidate) in enumerate(rollouts)
        )
    )
    with serve_proxy(config, base_dir=base) as server:
        yield server


def _received(server: RunningServer) -> list[tuple[str, Any]]:
    """(path, JSON body) of what the provider received since the last call; then forget it.
    Read when the server is idle: the SDK call has returned."""
    received = server.app[RECEIVED]  # type: ignore[index]
    records = [(r.path, r.json) for r in received]
    received.clear()
    return records


def _call(proxy_url: str, sdk: str, request: dict[str, Any], stream: bool) -> Any:
    """Make the call; the parsed answer, or every event of the stream."""
    extra = {"stream": True} if stream else {}
    if sdk == "anthropic":
        client: Any = anthropic.Anthropic(
            base_url=proxy_url + "/anthropic", api_key="k", max_retries=0
        )
        create = client.messages.create
    else:
        client = openai.OpenAI(base_url=proxy_url + "/v1", api_key="k", max_retries=0)
        create = attrgetter(sdk)(client).create
    with client:
        answer = create(**request, **extra)
        return list(answer) if stream else answer


USER_MSGS = [{"role": "user", "content": "Where is my order?"}]
GPT = {"model": "gpt-4o-mini"}
CLAUDE = {"model": "claude-haiku-4-5", "max_tokens": 100, "messages": USER_MSGS}

# (SDK resource, request the client makes, body the provider receives when not streaming)
E2E = {
    "chat replace": (
        "chat.completions",
        {"model": "replace-4o", "messages": [{"role": "system", "content": PIRATE}, *USER_MSGS]},
        {**GPT, "messages": [{"role": "system", "content": TEXT}, *USER_MSGS], "temperature": 0.2},
    ),
    "chat prepend, developer role": (
        "chat.completions",
        {"model": "prepend-o3", "messages": [{"role": "developer", "content": FRENCH}, *USER_MSGS]},
        {
            **GPT,
            "messages": [
                {"role": "developer", "content": TEXT},
                {"role": "developer", "content": FRENCH},
                *USER_MSGS,
            ],
            "temperature": 0.5,
        },
    ),
    "completions: no system prompt, model and params only": (
        "completions",
        {"model": "replace-instruct", "prompt": "Say hi"},
        {**GPT, "prompt": "Say hi", "temperature": 0.2},
    ),
    "responses replace": (
        "responses",
        {"model": "replace-4o", "input": "Where is my order?", "instructions": PIRATE},
        {**GPT, "input": "Where is my order?", "instructions": TEXT, "temperature": 0.2},
    ),
    "responses prepend": (
        "responses",
        {"model": "prepend-4o", "input": "Where is my order?", "instructions": FRENCH},
        {
            **GPT,
            "input": "Where is my order?",
            "instructions": f"{TEXT}\n\n{FRENCH}",
            "temperature": 0.5,
        },
    ),
    "anthropic replace, string system": (
        "anthropic",
        {**CLAUDE, "model": "claude-replace-sonnet", "system": PIRATE},
        {**CLAUDE, "system": TEXT, "temperature": 0.2},
    ),
    "anthropic replace, cached list system": (
        "anthropic",
        {
            **CLAUDE,
            "model": "claude-replace-sonnet",
            "system": [{"type": "text", "text": PIRATE, "cache_control": CACHED}],
        },
        {
            **CLAUDE,
            "system": [{"type": "text", "text": TEXT, "cache_control": CACHED}],
            "temperature": 0.2,
        },
    ),
    "anthropic prepend, string system": (
        "anthropic",
        {**CLAUDE, "model": "claude-prepend-sonnet", "system": FRENCH},
        {**CLAUDE, "system": f"{TEXT}\n\n{FRENCH}", "temperature": 0.5},
    ),
    "anthropic prepend, list system": (
        "anthropic",
        {**CLAUDE, "model": "claude-prepend-sonnet", "system": [{"type": "text", "text": FRENCH}]},
        {
            **CLAUDE,
            "system": [{"type": "text", "text": TEXT}, {"type": "text", "text": FRENCH}],
            "temperature": 0.5,
        },
    ),
}
PATHS = {
    "chat.completions": "/v1/chat/completions",
    "completions": "/v1/completions",
    "responses": "/v1/responses",
    "anthropic": "/v1/messages",
}
# What else a stream's body carries: OpenAI chat and completions streams are asked for usage.
USAGE = {"stream_options": {"include_usage": True}}
STREAM_EXTRA = {"chat.completions": USAGE, "completions": USAGE}


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("case", sorted(E2E))
def test_the_provider_receives_the_candidate(
    case: str, stream: bool, proxy: RunningServer, fake: RunningServer
) -> None:
    sdk, request, expected = E2E[case]
    _received(fake)
    answer = _call(proxy.url, sdk, request, stream)
    if stream:
        expected = {**expected, "stream": True, **STREAM_EXTRA.get(sdk, {})}
    assert _received(fake) == [(PATHS[sdk], expected)]
    _assert_answered(answer, stream, expected["model"])


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_a_candidate_on_another_provider_keeps_the_api_path(
    stream: bool, proxy: RunningServer, fake: RunningServer, other: RunningServer
) -> None:
    _received(fake)
    _received(other)
    request = {"model": "switch-4o", "messages": USER_MSGS}
    answer = _call(proxy.url, "chat.completions", request, stream)
    assert _received(fake) == []
    ((path, body),) = _received(other)
    assert path == "/v1/chat/completions"
    assert (body["model"], body["messages"]) == ("gpt-4o-mini", USER_MSGS)
    _assert_answered(answer, stream, "gpt-4o-mini")


def _assert_answered(answer: Any, stream: bool, model: str) -> None:
    """The client's SDK parsed a whole answer from the model that served it."""
    if stream:
        assert len(answer) > 2  # start, content, end events at least
    else:
        assert answer.model == model
