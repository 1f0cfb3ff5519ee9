from __future__ import annotations

import pytest

from proxy.stages.parse import detect_api


@pytest.mark.parametrize(
    ("method", "path", "api"),
    [
        ("POST", "/v1/chat/completions", "openai.chat"),
        ("POST", "/openai/deployments/x/chat/completions", "openai.chat"),
        ("POST", "/v1/completions", "openai.completions"),
        ("POST", "/v1/responses", "openai.responses"),
        ("POST", "/v1/embeddings", "openai.embeddings"),
        ("POST", "/anthropic/v1/messages", "anthropic.messages"),
        ("POST", "/anthropic/v1/messages/count_tokens", None),
        ("GET", "/v1/chat/completions", None),
        ("GET", "/v1/models", None),
        ("POST", "/v1/files", None),
        ("POST", "/v1/responses/resp_1/cancel", None),
    ],
)
def test_detect_api(method: str, path: str, api: str | None) -> None:
    assert detect_api(method, path) == api
