"""Config loading: valid files get defaults; every invalid file says file, key path, value."""

from __future__ import annotations

import pytest

from rollout.config import load_config, missing_credentials, parse_config
from rollout.errors import ConfigError

VALID = """
providers:
  openai: {base_url: "https://api.openai.com/v1/", api_key_env: OPENAI_API_KEY}
  claude: {kind: anthropic, base_url: "https://api.anthropic.com"}
routes:
  - {prefix: /v1/, provider: openai}
  - {prefix: /anthropic, provider: claude, models: ["claude-*"]}
"""


def test_valid_config_gets_defaults_and_normalised_values() -> None:
    config = parse_config(VALID)
    assert config.listen.host == "127.0.0.1" and config.listen.port == 8080
    assert config.limits.max_body_bytes == 32 * 1024 * 1024
    assert config.providers["openai"].base_url == "https://api.openai.com/v1"
    assert config.providers["openai"].timeouts.first_byte == 120.0
    assert config.routes[0].prefix == "/v1"
    assert config.routes[1].models == ["claude-*"]


def test_example_configs_in_the_repo_are_valid() -> None:
    for name in ("config/demo.yaml", "config/providers.yaml"):
        assert load_config(name).routes


def _errors(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "bad.yaml")
    return str(info.value).splitlines()


BASE = """providers:
  p: {base_url: 'http://127.0.0.1:9/v1'}
routes:
  - {prefix: /v1, provider: p}
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "providers:\n  p: {base_url: 'ftp://x'}\nroutes: [{prefix: /v1, provider: p}]",
            ["bad.yaml: providers.p.base_url: must start with http:// or https:// (got 'ftp://x')"],
        ),
        (
            BASE + "listen: {port: 70000}",
            [
                "bad.yaml: listen.port: Input should be less than or equal to 65535 (got 70000)",
            ],
        ),
        (
            BASE.replace("base_url:", "kindd: openai, base_url:"),
            ["bad.yaml: providers.p.kindd: unknown key"],
        ),
        (
            BASE.replace("{base_url", "{kind: gemini, base_url"),
            ["bad.yaml: providers.p.kind: Input should be 'openai' or 'anthropic' (got 'gemini')"],
        ),
        (
            BASE.replace("provider: p}", "provider: q}"),
            ["bad.yaml: routes[0].provider: names no configured provider (known: p) (got 'q')"],
        ),
        (
            BASE.replace("prefix: /v1", "prefix: v1"),
            [
                "bad.yaml: routes[0].prefix: must be a path starting with / "
                "(no query, no '..') (got 'v1')"
            ],
        ),
        (
            BASE + "limits: {max_body_bytes: 10}",
            [
                "bad.yaml: limits.max_body_bytes: Input should be greater than or equal to 1024 "
                "(got 10)"
            ],
        ),
        (
            BASE.replace("{base_url", "{timeouts: {idle: 0}, base_url"),
            ["bad.yaml: providers.p.timeouts.idle: Input should be greater than 0 (got 0)"],
        ),
        (
            BASE.replace("{base_url", "{api_key_env: 'sk-123', base_url"),
            [
                "bad.yaml: providers.p.api_key_env: must be an environment variable name, "
                "e.g. OPENAI_API_KEY (got 'sk-123')"
            ],
        ),
        (
            "providers: {}\nroutes: []",
            [
                "bad.yaml: providers: Dictionary should have at least 1 item after validation, "
                "not 0 (got {})",
                "bad.yaml: routes: List should have at least 1 item after validation, "
                "not 0 (got [])",
            ],
        ),
        (
            "routes:\n  - {provider: p}",
            [
                "bad.yaml: providers: required key is missing",
                "bad.yaml: routes[0].prefix: required key is missing",
            ],
        ),
        ("- just\n- a list", ["bad.yaml: must be a YAML mapping at the top level"]),
        (
            "providers: [",
            [
                "bad.yaml: line 1, column 13: invalid YAML: expected the node content, "
                "but found '<stream end>'"
            ],
        ),
    ],
)
def test_invalid_configs_report_every_problem_exactly(text: str, expected: list[str]) -> None:
    assert _errors(text) == expected


def test_several_problems_are_reported_together() -> None:
    text = BASE.replace("provider: p}", "provider: q}") + "listen: {port: -1}\nextra: 1\n"
    assert _errors(text) == [
        "bad.yaml: listen.port: Input should be greater than or equal to 0 (got -1)",
        "bad.yaml: extra: unknown key",
        "bad.yaml: routes[0].provider: names no configured provider (known: p) (got 'q')",
    ]


def test_unreadable_file_is_a_config_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.yaml: cannot read file: No such file"):
        load_config(tmp_path / "missing.yaml")


def test_missing_credentials_lists_unset_environment_variables() -> None:
    config = parse_config(VALID)
    assert missing_credentials(config, {}) == ["OPENAI_API_KEY"]
    assert missing_credentials(config, {"OPENAI_API_KEY": ""}) == ["OPENAI_API_KEY"]
    assert missing_credentials(config, {"OPENAI_API_KEY": "sk-x"}) == []
