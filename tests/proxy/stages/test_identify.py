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
