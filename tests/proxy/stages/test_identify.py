from __future__ import annotations

from types import SimpleNamespace

import pytest
from multidict import CIMultiDict

from proxy.cohorts.compiled import compile_rollout
from proxy.cohorts.subjects import compile_sources, default_subject, key_fingerprint
from proxy.stages.identify import Identify
from rollout.config.rollouts import Rollout


def test_key_fingerprint_is_fixed_and_one_way() -> None:
    # Fixed values: changing the hash would reshuffle every sticky cohort.
    assert key_fingerprint("sk-test-123") == "5c7ffe7564792727"
    assert key_fingerprint("Bearer sk-abc") == "3ef272590280f825"


def _facts(payload: dict | None, headers: dict, prefix: str = "/v1", model: str = "m") -> object:
    return SimpleNamespace(
        payload=payload,
        headers=CIMultiDict(headers),
        route_prefix=prefix,
        model=model,
        governing=None,
        rollout="",
        subject=None,
    )


@pytest.mark.parametrize(
    ("payload", "headers", "subject"),
    [
        ({"user": "u1"}, {}, "u1"),
        ({"metadata": {"user_id": "u2"}}, {}, "u2"),
        ({"user": ""}, {"authorization": "Bearer sk-abc"}, "key:3ef272590280f825"),
        ({"metadata": "x"}, {"x-api-key": "sk-test-123"}, "key:5c7ffe7564792727"),
        ({"user": 7}, {}, None),  # not a string: not a subject
        (None, {}, None),
    ],
)
def test_default_subject_order(payload: dict | None, headers: dict, subject: str | None) -> None:
    assert default_subject(_facts(payload, headers)) == subject  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("sources", "payload", "headers", "subject"),
    [
        (["header:x-user-id"], {"user": "u1"}, {"X-User-Id": "h1"}, "h1"),
        (["header:x-user-id", "body:user"], {"user": "u1"}, {}, "u1"),
        (["body:metadata.session.id"], {"metadata": {"session": {"id": "s9"}}}, {}, "s9"),
        (["body:metadata.session.id"], {"metadata": {"session": "s9"}}, {}, None),
        (["api_key"], {"user": "u1"}, {"x-api-key": "sk-test-123"}, "key:5c7ffe7564792727"),
    ],
)
def test_configured_sources(
    sources: list[str], payload: dict, headers: dict, subject: str | None
) -> None:
    assert compile_sources(sources)(_facts(payload, headers)) == subject  # type: ignore[arg-type]


async def test_first_governing_rollout_wins_and_sets_its_subject() -> None:
    first = Rollout.model_validate(
        {"name": "a", "models": ["gpt-*"], "subject": ["header:x-s"], "candidate": {"model": "x"}}
    )
    second = Rollout.model_validate({"name": "b", "candidate": {"model": "y"}})
    stage = Identify([compile_rollout(first, {}), compile_rollout(second, {})])
    ex = _facts({"user": "u"}, {"x-s": "sess"}, model="gpt-4o")
    await stage(ex)  # type: ignore[arg-type]
    assert (ex.rollout, ex.subject) == ("a", "sess")  # type: ignore[attr-defined]
    ex = _facts({"user": "u"}, {"x-s": "sess"}, model="claude")
    await stage(ex)  # type: ignore[arg-type]
    assert (ex.rollout, ex.subject) == ("b", "u")  # type: ignore[attr-defined]
    ex = _facts(None, {"x-s": "sess"}, model="gpt-4o")  # unparsed body: no rollout governs
    await stage(ex)  # type: ignore[arg-type]
    assert (ex.rollout, ex.subject) == ("", None)  # type: ignore[attr-defined]


class CountingFacts:
    """An exchange that counts how often the request's headers and body are read."""

    def __init__(self, payload: dict, headers: dict, model: str) -> None:
        self._payload, self._headers = payload, CIMultiDict(headers)
        self.route_prefix, self.model = "/v1", model
        self.governing, self.rollout, self.subject = None, "", None
        self.reads = {"payload": 0, "headers": 0}

    @property
    def payload(self) -> dict:
        self.reads["payload"] += 1
        return self._payload

    @property
    def headers(self) -> CIMultiDict:
        self.reads["headers"] += 1
        return self._headers


def _rollout(name: str, **config: object) -> Rollout:
    return Rollout.model_validate({"name": name, "candidate": {"model": "c"}, **config})


async def test_a_thousand_rollouts_cost_one_lookup_and_one_subject() -> None:
    others = [
        _rollout(f"r{i}", models=[f"other-{i}-*"], subject=["header:x-s"]) for i in range(1000)
    ]
    last = _rollout("last", routes=["/v1/"], models=["gpt-4o"], subject=["header:x-s", "body:u"])
    stage = Identify([compile_rollout(r, {}) for r in [*others, last]])
    ex = CountingFacts({"u": "body-user"}, {"x-s": "sess"}, model="gpt-4o")
    await stage(ex)  # type: ignore[arg-type]
    assert (ex.rollout, ex.subject) == ("last", "sess")
    assert ex.reads == {"payload": 1, "headers": 1}  # the body checked once, one header read


@pytest.mark.parametrize(
    ("prefix", "model"),
    [("/v1", "gpt-4o"), ("/v1", "gpt-4o-mini"), ("/v2", "gpt-4o"), ("/v2", "claude-3"),
     ("/", "o1"), ("/v1", None), ("/other", "claude-3")],
)  # fmt: skip
async def test_the_governing_rollout_is_the_first_that_governs(
    prefix: str, model: str | None
) -> None:
    rollouts = [
        compile_rollout(r, {})
        for r in [
            _rollout("v2", routes=["/v2/"], models=["gpt-*"]),
            _rollout("mini", models=["*-mini", "o1"]),
            _rollout("v1", routes=["/v1", "/"]),
            _rollout("claude", models=["claude-?"]),
        ]
    ]
    ex = _facts({"user": "u"}, {}, prefix=prefix, model=model)  # type: ignore[arg-type]
    await Identify(rollouts)(ex)  # type: ignore[arg-type]
    first = next((r.name for r in rollouts if r.governs(prefix, model)), "")
    assert ex.rollout == first  # type: ignore[attr-defined]
