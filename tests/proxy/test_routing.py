from __future__ import annotations

import pytest

from proxy.routing import Router, is_safe_path
from proxy.upstream import Upstream
from rollout.config import parse_config

CONFIG = parse_config(
    """
providers:
  openai: {base_url: "http://127.0.0.1:1/v1"}
  vllm: {base_url: "http://127.0.0.1:2/v1"}
  claude: {kind: anthropic, base_url: "http://127.0.0.1:3"}
routes:
  - {prefix: /v1, provider: openai}
  - {prefix: /v1, provider: vllm, models: ["llama-*", "qwen"]}
  - {prefix: /anthropic, provider: claude}
"""
)
UPSTREAMS = {name: Upstream(name, p, {}) for name, p in CONFIG.providers.items()}
ROUTER = Router(CONFIG.routes, UPSTREAMS)


@pytest.mark.parametrize(
    ("path", "model", "provider"),
    [
        ("/v1/chat/completions", "gpt-4o", "openai"),
        ("/v1/chat/completions", None, "openai"),
        ("/v1/chat/completions", "llama-3-8b", "vllm"),
        ("/v1/chat/completions", "qwen", "vllm"),
        ("/v1/chat/completions", "qwen2", "openai"),
        ("/v1", None, "openai"),
        ("/anthropic/v1/messages", "claude-x", "claude"),
        ("/v1x/chat", None, None),  # prefixes match on segment boundaries only
        ("/v2/chat", None, None),
        ("/", None, None),
    ],
)
def test_route_choice(path: str, model: str | None, provider: str | None) -> None:
    route = Router.choose(ROUTER.candidates(path, path), model)
    assert (route.upstream.name if route else None) == provider


@pytest.mark.parametrize(
    ("path", "safe"),
    [
        ("/v1/chat", True),
        ("/v1/../admin", False),
        ("/v1/./chat", False),
        ("/v1/..", False),
        ("/v1/..foo", True),
        ("v1/chat", False),
    ],
)
def test_dot_segments_are_never_routed(path: str, safe: bool) -> None:
    assert is_safe_path(path) is safe


def test_strip_length_keeps_the_path_after_the_prefix() -> None:
    route = ROUTER.candidates("/anthropic/v1/messages", "/anthropic/v1/messages")[0]
    assert "/anthropic/v1/messages?beta=1"[route.strip :] == "/v1/messages?beta=1"


def test_upstream_repr_never_shows_the_credential() -> None:
    provider = parse_config(
        "providers:\n  p: {base_url: 'http://h/v1', api_key_env: K}\n"
        "routes: [{prefix: /v1, provider: p}]"
    ).providers["p"]
    upstream = Upstream("p", provider, {"K": "sk-secret"})
    assert upstream.credential == ("Authorization", "Bearer sk-secret")
    assert "sk-secret" not in repr(upstream)
