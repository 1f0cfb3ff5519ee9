"""Admin tokens from the environment: parsing, roles, and which token a header carries."""

from __future__ import annotations

import logging

import pytest

from proxy.admin.auth import Role, identify, is_loopback, load_tokens


def _load(single: str = "", several: str = "") -> list[tuple[str, Role, bytes]]:
    env = {"ONE": single, "MANY": several}
    return [(t.name, t.role, t.secret) for t in load_tokens(env, "ONE", "MANY")]


def test_the_single_token_has_full_rights() -> None:
    assert _load("s3cret") == [("admin", Role.approver, b"s3cret")]


def test_several_tokens_with_roles() -> None:
    several = "ci:viewer:abc, ops : operator : o:p:q ,boss:approver:xyz,"
    assert _load(several=several) == [
        ("ci", Role.viewer, b"abc"),
        ("ops", Role.operator, b"o:p:q"),
        ("boss", Role.approver, b"xyz"),
    ]


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("justatoken", "entry 1 ignored: expected name:role:token"),
        ("ci:admin:abc", "entry 1 ignored: role must be viewer, operator or approver, not 'admin'"),
        (":viewer:abc", "entry 1 ignored: the name is empty"),
        ("ci:viewer:", "entry 1 ignored: the token is empty"),
    ],
)
def test_a_malformed_entry_is_skipped_and_logged_without_its_secret(
    caplog: pytest.LogCaptureFixture, entry: str, problem: str
) -> None:
    with caplog.at_level(logging.ERROR, logger="llm_rollout.admin"):
        assert _load(several=f"{entry},ok:viewer:fine") == [("ok", Role.viewer, b"fine")]
    assert caplog.messages == [f"MANY {problem}"]
    assert "abc" not in caplog.text


def test_identify_finds_the_token_and_nothing_else() -> None:
    tokens = load_tokens({"MANY": "a:viewer:one,b:approver:two"}, "ONE", "MANY")
    assert identify("Bearer two", tokens) is tokens[1]
    assert identify("Bearer tw", tokens) is None
    assert identify("", tokens) is None
    assert "two" not in repr(tokens)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("::1", True), ("localhost", True), ("0.0.0.0", False),
     ("10.0.0.5", False), ("admin.internal", False)],
)  # fmt: skip
def test_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
