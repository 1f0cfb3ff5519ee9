"""Flag configs: valid ones load as written; each invalid one says file, key path, value."""

from __future__ import annotations

import pytest

from rollout.config import parse_config
from rollout.errors import ConfigError

BASE = """providers:
  p: {base_url: 'http://127.0.0.1:9/v1'}
  q: {base_url: 'http://127.0.0.1:9/v1'}
  c: {kind: anthropic, base_url: 'http://127.0.0.1:9'}
routes:
  - {prefix: /v1, provider: p}
  - {prefix: /anthropic, provider: c}
flags:
"""


def _errors(flags: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(BASE + flags, "bad.yaml")
    return str(info.value).splitlines()


def test_valid_flags_load_with_their_values() -> None:
    config = parse_config(
        BASE
        + """
  - name: free-tier
    when:
      headers: {x-tier: [free, 1, true]}
      body: {metadata.tier: free}
      models: ["gpt-4*"]
      routes: [/v1/]
      apis: [openai.chat]
      percent: 12.5
      max_tokens_over: 1000
      tools: true
    then: {route: {provider: q, model: gpt-4o-mini}, cap: {max_tokens: 500}, strip_tools: true}
  - {name: kill, enabled: false, then: {deny: {message: "gone", status: 503}}}
  - {name: claude-only, when: {routes: [/anthropic]}, then: {route: {provider: c}, arm: baseline}}
""",
        "good.yaml",
    )
    first, kill, claude = config.flags
    assert first.when.headers == {"x-tier": ["free", 1, True]}  # types kept for matching
    assert first.when.percent == 12.5 and first.then.route.provider == "q"  # type: ignore[union-attr]
    assert not kill.enabled and kill.then.deny.status == 503  # type: ignore[union-attr]
    assert claude.then.arm == "baseline"


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (
            "  - {name: a, then: {}}",
            "flags[0].then: a flag must do something: deny, route, cap, set, strip_tools or arm"
            " (got {})",
        ),
        (
            "  - {name: a, then: {strip_tools: false}}",
            "flags[0].then: a flag must do something: deny, route, cap, set, strip_tools or arm"
            " (got {'strip_tools': False})",
        ),
        (
            "  - {name: a, then: {deny: {message: nope}, route: {model: m}}}",
            "flags[0].then: deny cannot be combined with other effects"
            " (got {'deny': {'message': 'nope'}, 'route': {'model': 'm'}})",
        ),
        (
            "  - {name: a, then: {deny: {message: nope}, arm: candidate}}",
            "flags[0].then: deny cannot be combined with other effects"
            " (got {'deny': {'message': 'nope'}, 'arm': 'candidate'})",
        ),
        (
            "  - {name: a, then: {deny: {message: nope, status: 200}}}",
            "flags[0].then.deny.status: Input should be greater than or equal to 400 (got 200)",
        ),
        (
            "  - {name: a, then: {route: {}}}",
            "flags[0].then.route: route needs a provider, a model or both (got {})",
        ),
        (
            "  - {name: a, then: {cap: {max_tokens: 0}}}",
            "flags[0].then.cap.max_tokens: Input should be greater than 0 (got 0)",
        ),
        (
            "  - {name: a, then: {set: {stream: true, model: x}}}",
            "flags[0].then.set: may not set model, stream (use route.model for the model)"
            " (got {'stream': True, 'model': 'x'})",
        ),
        (
            "  - {name: a, then: {arm: champion}}",
            "flags[0].then.arm: Input should be 'baseline' or 'candidate' (got 'champion')",
        ),
        (
            "  - {name: a, when: {apis: [openai.chatt]}, then: {arm: baseline}}",
            "flags[0].when.apis: unknown api 'openai.chatt' (known: anthropic.messages,"
            " openai.chat, openai.completions, openai.embeddings, openai.responses)"
            " (got ['openai.chatt'])",
        ),
        (
            "  - {name: a, when: {percent: 150}, then: {arm: baseline}}",
            "flags[0].when.percent: Input should be less than or equal to 100 (got 150)",
        ),
        (
            "  - {name: a, when: {max_tokens_over: -1}, then: {arm: baseline}}",
            "flags[0].when.max_tokens_over: Input should be greater than or equal to 0 (got -1)",
        ),
        (
            "  - {name: a, when: {headers: {x-tier: null}}, then: {arm: baseline}}",
            "flags[0].when.headers.x-tier: must be a string, number or boolean,"
            " or a list of them (got None)",
        ),
        (
            "  - {name: a, when: {body: {tier: [1, {a: 1}]}}, then: {arm: baseline}}",
            "flags[0].when.body.tier: must be a string, number or boolean,"
            " or a list of them (got [1, {'a': 1}])",
        ),
        (
            "  - {name: a, when: {colour: red}, then: {arm: baseline}}",
            "flags[0].when.colour: unknown key",
        ),
        (
            "  - {name: A!, then: {arm: baseline}}",
            "flags[0].name: String should match pattern '^[a-z0-9][a-z0-9_.-]{0,62}$' (got 'A!')",
        ),
        (
            "  - {name: a, then: {arm: baseline}}\n  - {name: a, then: {arm: candidate}}",
            "flags[1].name: duplicate name (got 'a')",
        ),
        (
            "  - {name: a, then: {route: {provider: nope}}}",
            "flags[0].then.route.provider: names no configured provider (known: c, p, q)"
            " (got 'nope')",
        ),
        (
            "  - {name: a, then: {route: {provider: c}}}",
            "flags[0].then.route.provider: is an anthropic provider but requests on route /v1"
            " speak openai (limit the routes this applies to) (got 'c')",
        ),
        (
            "  - {name: a, when: {routes: [/v1/]}, then: {route: {provider: c}}}",
            "flags[0].then.route.provider: is an anthropic provider but requests on route /v1"
            " speak openai (limit the routes this applies to) (got 'c')",
        ),
        (
            "  - {name: a, when: {routes: [/v2]}, then: {arm: baseline}}",
            "flags[0].when.routes[0]: names no configured route prefix (known: /anthropic, /v1)"
            " (got '/v2')",
        ),
    ],
)
def test_invalid_flags_are_reported_exactly(flags: str, expected: str) -> None:
    assert _errors(flags) == [f"bad.yaml: {expected}"]
