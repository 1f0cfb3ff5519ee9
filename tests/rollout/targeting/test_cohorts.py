"""The cohort hash is a published contract: these values must never change (a change would move
subjects between arms mid-rollout). Cross-checked with `sha256sum` from coreutils."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollout.targeting.cohorts import bucket, hash_arm, may_be_remembered, stored_subject


@pytest.mark.parametrize(
    ("salt", "subject", "expected"),
    [
        ("support-v2", "alice", 0.17186075088368924),
        ("support-v2", "bob", 0.6944751673617564),
        ("support-v2", "key:5c7ffe7564792727", 0.9049550067759077),
        ("other", "alice", 0.679124556944176),
        ("", "", 0.9996105273049685),
        ("söme-salt", "ユーザー", 0.1177969437818096),
    ],
)
def test_bucket_fixed_values(salt: str, subject: str, expected: float) -> None:
    assert bucket(salt, subject) == expected


def test_salt_and_subject_are_separated() -> None:
    # "ab" + "c" must not collide with "a" + "bc": the separator is part of the contract.
    assert bucket("ab", "c") != bucket("a", "bc")


@given(st.text(), st.text())
def test_bucket_is_in_unit_interval(salt: str, subject: str) -> None:
    assert 0.0 <= bucket(salt, subject) < 1.0


@given(
    st.lists(st.text(min_size=1), min_size=1, max_size=50),
    st.floats(0, 1),
    st.floats(0, 1),
)
def test_raising_the_weight_only_adds_subjects(subjects: list[str], w1: float, w2: float) -> None:
    low, high = sorted((w1, w2))
    on_low = {s for s in subjects if hash_arm(bucket("r", s), low) == "candidate"}
    on_high = {s for s in subjects if hash_arm(bucket("r", s), high) == "candidate"}
    assert on_low <= on_high


def test_weight_share_is_close_to_the_weight() -> None:
    positions = [bucket("share", f"user-{i}") for i in range(20_000)]
    for weight in (0.01, 0.05, 0.25, 0.5):
        share = sum(p < weight for p in positions) / len(positions)
        assert abs(share - weight) < 0.01, (weight, share)


@pytest.mark.parametrize(
    ("position", "weight", "max_weight", "lookup"),
    [
        (0.10, 0.25, 0.25, False),  # on the candidate by hash
        (0.30, 0.25, 0.25, False),  # weight never went higher: baseline, no lookup
        (0.30, 0.25, 0.50, True),  # weight came down past this subject: ask the store
        (0.50, 0.25, 0.50, False),  # never reached
        (0.25, 0.25, 0.50, True),  # boundary: bucket == weight is baseline by hash
    ],
)
def test_may_be_remembered(position: float, weight: float, max_weight: float, lookup: bool) -> None:
    assert may_be_remembered(position, weight, max_weight) is lookup


@pytest.mark.parametrize(
    ("scope", "subject", "expected"),
    [  # checked with `printf 'SCOPE\x1fSUBJECT' | b2sum -l 128`
        ("r:v1:0", "alice", "7951286d0eee3e3ba919cb7be5bdf58b"),
        ("checkout:3f2a:2", "user-42", "46c39e8e4f71aa22356d7eecd6618426"),
        ("r:v1:0", "", "ba16ff6ebd824e076f3811e4b6931fc2"),
    ],
)
def test_stored_subject_is_a_fixed_digest(scope: str, subject: str, expected: str) -> None:
    assert stored_subject(scope, subject) == expected
