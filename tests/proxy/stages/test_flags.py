"""The flags stage on an Exchange: what each effect changes, deny, order, what is skipped.

Then end to end: what the client gets and the provider receives through a real proxy, driven by
the official SDKs.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import aiohttp
import anthropic
import openai
import pytest
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict
from prometheus_client import REGISTRY

from proxy.exchange import Exchange
from proxy.fake_provider import RECEIVED
from proxy.stages.flags import FlagEdits, Flags
from proxy.upstream import Upstream
from rollout.config import Provider
from rollout.config.flags import Flag
from rollout.errors import Denied
from rollout.targeting.flags import FlagSet
from tests.support.proxy import serve_proxy, two_fakes_config
from tests.support.servers import RunningServer

UPSTREAMS = {
    name: Upstream(name, Provider(kind="openai", base_url=f"http://{name}.test/v1"), {})
    for name in ("route-provider", "other")
}
TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {}}}]
CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


class _Route:
    prefix = "/v1"


def _exchange(
    payload: dict[str, Any] | None, api: str = "openai.chat", headers: dict[str, str] | None = None
) -> Exchange:
    request = make_mocked_request(
        "POST", "/v1/chat/completions", headers=CIMultiDict(headers or {})
    )
    ex = Exchange(request, [])
    ex.api, ex.payload, ex.subject = api, copy.deepcopy(payload), "user:alice"
    ex.model = payload.get("model") if payload else None
    ex.route, ex.upstream = _Route(), UPSTREAMS["route-provider"]  # type: ignore[assignment]
    return ex


def _stage(*flags: dict[str, Any]) -> Flags:
    return Flags(FlagSet([Flag.model_validate(f) for f in flags]), UPSTREAMS)


async def _run(stage: Flags, ex: Exchange) -> Exchange:
    """Both halves, as the pipeline runs them (without a rollout in between)."""
    await stage(ex)
    await FlagEdits(UPSTREAMS)(ex)
    return ex


def _flag(name: str, then: dict[str, Any], **when: Any) -> dict[str, Any]:
    return {"name": name, "when": when, "then": then}


def _chat(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(CHAT), **changes}


# (flags, api, request payload, headers,
#  expected: flags matched, forced arm, upstream, model, payload forwarded, payload_changed)
CASES = {
    "no match": (
        [_flag("claude", {"arm": "candidate"}, models=["claude-*"])],
        "openai.chat",
        CHAT,
        {},
        ([], None, "route-provider", "gpt-4o", CHAT, False),
    ),
    "disabled flag": (
        [{**_flag("off", {"arm": "candidate"}), "enabled": False}],
        "openai.chat",
        CHAT,
        {},
        ([], None, "route-provider", "gpt-4o", CHAT, False),
    ),
    "route to a provider": (
        [_flag("move", {"route": {"provider": "other"}})],
        "openai.chat",
        CHAT,
        {},
        (["move"], None, "other", "gpt-4o", CHAT, False),
    ),
    "route to a model": (
        [_flag("cheaper", {"route": {"model": "gpt-4o-mini"}}, headers={"x-tier": "free"})],
        "openai.chat",
        CHAT,
        {"X-Tier": "free"},
        (["cheaper"], None, "route-provider", "gpt-4o-mini", _chat(model="gpt-4o-mini"), True),
    ),
    "route to the model asked for": (
        [_flag("same", {"route": {"model": "gpt-4o"}})],
        "openai.chat",
        CHAT,
        {},
        (["same"], None, "route-provider", "gpt-4o", CHAT, False),
    ),
    "cap adds the chat limit": (
        [_flag("cap", {"cap": {"max_tokens": 100}}, max_tokens_over=100)],
        "openai.chat",
        CHAT,
        {},
        (["cap"], None, "route-provider", "gpt-4o", _chat(max_completion_tokens=100), True),
    ),
    "cap under the limit: no match": (
        [_flag("cap", {"cap": {"max_tokens": 100}}, max_tokens_over=100)],
        "openai.chat",
        _chat(max_tokens=50),
        {},
        ([], None, "route-provider", "gpt-4o", _chat(max_tokens=50), False),
    ),
    "set": (
        [_flag("cool", {"set": {"temperature": 0.1}})],
        "openai.chat",
        _chat(temperature=1),
        {},
        (["cool"], None, "route-provider", "gpt-4o", _chat(temperature=0.1), True),
    ),
    "strip tools, anthropic": (
        [_flag("no-tools", {"strip_tools": True}, tools=True)],
        "anthropic.messages",
        _chat(tools=TOOLS, tool_choice={"type": "any"}),
        {},
        (["no-tools"], None, "route-provider", "gpt-4o", CHAT, True),
    ),
    "strip tools without tools: no change": (
        [_flag("no-tools", {"strip_tools": True})],
        "openai.chat",
        CHAT,
        {},
        (["no-tools"], None, "route-provider", "gpt-4o", CHAT, False),
    ),
    "first forced arm wins": (
        [
            _flag("staff", {"arm": "candidate"}, body={"user": "staff"}),
            _flag("everyone", {"arm": "baseline"}),
        ],
        "openai.chat",
        _chat(user="staff"),
        {},
        (
            ["staff", "everyone"],
            "candidate",
            "route-provider",
            "gpt-4o",
            _chat(user="staff"),
            False,
        ),
    ),
    "later edit of a field wins; flags judge the request as sent": (
        [
            _flag("a", {"set": {"temperature": 0.1}, "route": {"model": "gpt-4o-mini"}}),
            _flag("b", {"set": {"temperature": 0.9}}, models=["gpt-4o"]),
            _flag("c", {"arm": "candidate"}, models=["gpt-4o-mini"]),
        ],
        "openai.chat",
        CHAT,
        {},
        (
            ["a", "b"],
            None,
            "route-provider",
            "gpt-4o-mini",
            _chat(model="gpt-4o-mini", temperature=0.9),
            True,
        ),
    ),
}


@pytest.mark.parametrize(
    ("flags", "api", "payload", "headers", "expected"), CASES.values(), ids=CASES
)
async def test_effects(
    flags: list[dict[str, Any]],
    api: str,
    payload: dict[str, Any],
    headers: dict[str, str],
    expected: tuple[Any, ...],
) -> None:
    ex = await _run(_stage(*flags), _exchange(payload, api, headers))
    assert ex.upstream is not None
    got = (ex.flags, ex.forced_arm, ex.upstream.name, ex.model, ex.payload, ex.payload_changed)
    assert got == expected


@pytest.mark.parametrize(
    ("flags", "matched"),
    [
        ([_flag("kill", {"deny": {"message": "switched off"}})], ["kill"]),
        (
            [
                _flag("tag", {"arm": "candidate"}),
                _flag("kill", {"deny": {"message": "switched off", "status": 429}}),
                _flag("after", {"route": {"provider": "other", "model": "x"}}),
            ],
            ["tag", "kill"],
        ),
    ],
)
async def test_deny_stops_every_flag_after_it(
    flags: list[dict[str, Any]], matched: list[str]
) -> None:
    ex = _exchange(CHAT)
    status = flags[len(matched) - 1]["then"]["deny"].get("status", 403)
    with pytest.raises(Denied) as info:
        await _stage(*flags)(ex)
    assert (info.value.message, info.value.status) == ("switched off", status)
    assert ex.flags == matched
    assert ex.upstream is UPSTREAMS["route-provider"] and ex.payload == CHAT


@pytest.mark.parametrize(
    ("flags", "payload"),
    [
        ([_flag("kill", {"deny": {"message": "no"}})], None),  # passthrough or malformed body
        ([], CHAT),
    ],
)
async def test_skipped(flags: list[dict[str, Any]], payload: dict[str, Any] | None) -> None:
    ex = await _run(_stage(*flags), _exchange(payload))
    assert (ex.flags, ex.payload, ex.payload_changed) == ([], payload, False)


def _matches_counted(flag: str) -> float:
    return REGISTRY.get_sample_value("llm_rollout_flag_matches_total", {"flag": flag}) or 0.0


async def test_matches_are_counted_per_flag() -> None:
    stage = _stage(
        _flag("count-gpt", {"arm": "candidate"}, models=["gpt-*"]),
        _flag("count-claude", {"arm": "candidate"}, models=["claude-*"]),
    )
    before = _matches_counted("count-gpt"), _matches_counted("count-claude")
    for model in ("gpt-4o", "gpt-4o-mini", "claude-3"):
        await stage(_exchange(_chat(model=model)))
    assert (_matches_counted("count-gpt"), _matches_counted("count-claude")) == (
        before[0] + 2,
        before[1] + 1,
    )


async def test_runtime_override_applies_to_the_running_stage() -> None:
    stage = _stage(_flag("later", {"arm": "candidate"}))
    stage.flags.apply_runtime({"later": {"enabled": False}})
    assert (await _run(stage, _exchange(CHAT))).flags == []
    stage.flags.apply_runtime({})
    assert (await _run(stage, _exchange(CHAT))).flags == ["later"]


# --- end to end ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def proxy(fake: RunningServer, other: RunningServer) -> Iterator[RunningServer]:
    config = (
        two_fakes_config(fake.url, other.url)
        + """
flags:
  - name: retired
    when: {models: [gpt-4]}
    then: {deny: {message: "gpt-4 is retired: use gpt-4o"}}
  - name: over-quota
    when: {headers: {x-quota: exceeded}}
    then: {deny: {message: "quota exceeded", status: 429}}
  - name: free-tier
    when: {headers: {x-tier: free}, routes: [/v1]}
    then: {route: {model: gpt-4o-mini}, cap: {max_tokens: 64}}
  - name: to-other
    when: {headers: {x-route: other}, routes: [/v1]}
    then: {route: {provider: other}}
  - name: claude-no-tools
    when: {routes: [/anthropic], tools: true}
    then: {strip_tools: true}
"""
    )
    with serve_proxy(config) as server:
        yield server


def _received(server: RunningServer) -> list[Any]:
    """JSON bodies the provider received since the last call; then forget them.
    Read when the server is idle: the SDK call has returned."""
    received = server.app[RECEIVED]  # type: ignore[index]
    bodies = [r.json for r in received]
    received.clear()
    return bodies


def _openai(proxy: RunningServer, **headers: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=proxy.url + "/v1", api_key="k", max_retries=0, default_headers=headers
    )


USER = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("model", "headers", "error", "message"),
    [
        ("gpt-4", {}, openai.PermissionDeniedError, "gpt-4 is retired: use gpt-4o"),
        ("gpt-4o", {"x-quota": "exceeded"}, openai.RateLimitError, "quota exceeded"),
    ],
)
def test_e2e_deny_answers_in_the_provider_shape(
    proxy: RunningServer,
    fake: RunningServer,
    model: str,
    headers: dict[str, str],
    error: type[openai.APIStatusError],
    message: str,
) -> None:
    _received(fake)
    with _openai(proxy, **headers) as client, pytest.raises(error) as info:
        client.chat.completions.create(model=model, messages=USER)  # type: ignore[arg-type]
    assert info.value.body["message"] == message  # type: ignore[index]
    assert _received(fake) == []


@pytest.mark.parametrize("stream", [False, True])
def test_e2e_route_and_cap(proxy: RunningServer, fake: RunningServer, stream: bool) -> None:
    _received(fake)
    with _openai(proxy, **{"x-tier": "free"}) as client:
        answer = client.chat.completions.create(model="gpt-4o", messages=USER, stream=stream)  # type: ignore[call-overload]
        chunks = list(answer) if stream else [answer]
    (body,) = _received(fake)
    assert (body["model"], body["max_completion_tokens"]) == ("gpt-4o-mini", 64)
    assert chunks and all(c.model == "gpt-4o-mini" for c in chunks)


def test_e2e_route_to_another_provider(
    proxy: RunningServer, fake: RunningServer, other: RunningServer
) -> None:
    _received(fake), _received(other)
    with _openai(proxy, **{"x-route": "other"}) as client:
        client.chat.completions.create(model="gpt-4o", messages=USER)  # type: ignore[arg-type]
    assert _received(fake) == []
    assert [b["model"] for b in _received(other)] == ["gpt-4o"]


def test_e2e_strip_tools_anthropic(proxy: RunningServer, fake: RunningServer) -> None:
    _received(fake)
    tools = [{"name": "lookup", "description": "d", "input_schema": {"type": "object"}}]
    with anthropic.Anthropic(base_url=proxy.url + "/anthropic", api_key="k", max_retries=0) as c:
        message = c.messages.create(
            model="claude-haiku-4-5",
            max_tokens=50,
            messages=USER,
            tools=tools,  # type: ignore[arg-type]
        )
    (body,) = _received(fake)
    assert "tools" not in body and body["messages"] == USER
    assert message.stop_reason != "tool_use"


async def test_e2e_unparsed_bodies_meet_no_flag(proxy: RunningServer, fake: RunningServer) -> None:
    _received(fake)
    broken = b'{"model": "gpt-4"'
    async with (
        aiohttp.ClientSession(base_url=proxy.url) as http,
        http.post("/v1/chat/completions", data=broken, headers={"x-quota": "exceeded"}) as resp,
    ):
        # the provider's own answer to the broken JSON, not the over-quota deny (429)
        assert resp.status == 400
    assert [r is None for r in _received(fake)] == [True]
