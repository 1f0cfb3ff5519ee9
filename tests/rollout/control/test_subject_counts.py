"""Distinct-subject counting, the parts outside the store: the request path's aggregator, the
keyed hash and its key, and when the controller asks the store."""

from __future__ import annotations

import asyncio

import pytest

from rollout.config.plan import Plan
from rollout.control.decide import RolloutState
from rollout.control.subject_counts import (
    KEY_DOCUMENT,
    SHORT,
    SubjectAggregator,
    candidate_subjects,
    hash_subject,
    load_hash_key,
)
from rollout.errors import StoreError
from rollout.store import Store


def test_the_aggregator_keeps_distinct_subjects_per_rollout_and_bucket() -> None:
    agg = SubjectAggregator(bucket_seconds=10)
    for subject, now in [("a", 100.0), ("b", 101.0), ("a", 109.9), ("a", 110.0)]:
        agg.add("r", subject, now)
    agg.add("other", "a", 105.0)
    assert agg.drain() == {("r", 100): {"a", "b"}, ("r", 110): {"a"}, ("other", 100): {"a"}}
    assert agg.drain() == {}


def test_long_subjects_are_shortened_alike() -> None:
    agg = SubjectAggregator()
    long = "x" * 10_000
    agg.add("r", long, 0)
    agg.add("r", long, 1)
    agg.add("r", long + "y", 2)
    agg.add("r", "y" * SHORT, 3)  # at the limit: kept as it is
    [kept] = agg.drain().values()
    assert len(kept) == 3 and "y" * SHORT in kept
    assert all(len(s) <= SHORT for s in kept)


def test_a_full_bucket_drops_new_subjects_and_counts_them() -> None:
    agg = SubjectAggregator(max_per_bucket=2)
    for subject in ["a", "b", "a", "c", "b", "d", "c"]:
        agg.add("r", subject, 0)
    agg.add("r", "e", 20)  # another bucket has room of its own
    assert agg.drain() == {("r", 0): {"a", "b"}, ("r", 20): {"e"}}
    assert agg.dropped == 3  # c, d, c: seen ones are not dropped again


def test_the_hash_is_keyed_and_stable() -> None:
    key = b"k" * 32
    digest = hash_subject(key, "user-1")
    assert len(digest) == 16 and "user-1" not in digest
    assert hash_subject(key, "user-1") == digest
    assert hash_subject(b"j" * 32, "user-1") != digest  # another store's key: another hash
    assert hash_subject(key, "user-2") != digest


async def test_the_key_is_made_once_and_shared(store: Store) -> None:
    keys = await asyncio.gather(*(load_hash_key(store.documents) for _ in range(5)))
    assert len(set(keys)) == 1 and len(keys[0]) == 32
    assert await load_hash_key(store.documents) == keys[0]
    assert (await store.documents.read(KEY_DOCUMENT))[0] == {"key": keys[0].hex()}


async def test_a_garbled_key_is_a_store_error(store: Store) -> None:
    await store.documents.write(KEY_DOCUMENT, {"key": "not hex"}, 0)
    with pytest.raises(StoreError, match="not a hex key"):
        await load_hash_key(store.documents)


PLAN = Plan(min_subjects=5, stages=[1, 50, 100])
NO_SUBJECTS = Plan()


@pytest.mark.parametrize(
    ("plan", "phase", "stage", "weight", "counted"),
    [
        (PLAN, "ramping", 0, 0.01, 2),
        (PLAN, "paused", 0, 0.01, 2),
        (PLAN, "awaiting_approval", 0, 0.01, 2),
        (PLAN, "baking", 2, 1.0, 2),
        (NO_SUBJECTS, "ramping", 0, 0.01, None),  # nothing asks: no round trip
        (PLAN, "pending", 0, 0.0, None),
        (PLAN, "shadow", 0, 0.0, None),
        (PLAN, "awaiting_approval", 0, 0.0, None),  # waiting to enter the first stage
        (PLAN, "rolled_back", 0, 0.0, None),
        (PLAN, "complete", 2, 1.0, None),
    ],
)
async def test_the_controller_counts_only_when_the_stage_asks(
    store: Store, plan: Plan, phase: str, stage: int, weight: float, counted: int | None
) -> None:
    await store.subjects.add("r", {90: ["old"], 100: ["a", "b"], 110: ["b"]})
    state = RolloutState("v1", phase, stage, weight, since=95.5)  # type: ignore[arg-type]
    assert await candidate_subjects(store.subjects, "r", plan, state) == counted
