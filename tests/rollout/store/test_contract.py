"""The one contract both stores keep, run against each (`store` is parametrised)."""

from __future__ import annotations

import asyncio
import time

import pytest

from rollout.store import Store, Subscription
from tests.rollout.store.conftest import Backend


async def next_message(sub: Subscription, within: float = 1.0) -> dict:
    async with asyncio.timeout(within):
        return await anext(sub)


# -- documents ------------------------------------------------------------------------------------


async def test_absent_document_reads_as_none_revision_zero(store: Store) -> None:
    assert await store.documents.read("rollout/missing") == (None, 0)


async def test_write_then_read_round_trips_and_counts_revisions(store: Store, peer: Store) -> None:
    doc = {"phase": "ramping", "weight": 0.05, "stages": [1, 5, 25], "note": "ünï", "x": None}
    assert await store.documents.write("state/checkout", doc, 0) == 1
    assert await peer.documents.read("state/checkout") == (doc, 1)
    assert await peer.documents.write("state/checkout", {**doc, "weight": 0.25}, 1) == 2
    assert await store.documents.read("state/checkout") == ({**doc, "weight": 0.25}, 2)


async def test_write_with_stale_revision_is_refused_and_changes_nothing(store: Store) -> None:
    assert await store.documents.write("k", {"v": 1}, 0) == 1
    assert await store.documents.write("k", {"v": 2}, 0) is None
    assert await store.documents.write("k", {"v": 3}, 5) is None
    assert await store.documents.write("other", {"v": 4}, 1) is None  # absent means revision 0
    assert await store.documents.read("k") == ({"v": 1}, 1)
    assert await store.documents.read("other") == (None, 0)


async def test_read_returns_a_copy_not_the_stored_object(store: Store) -> None:
    doc = {"list": [1]}
    await store.documents.write("k", doc, 0)
    doc["list"].append(2)
    first, _ = await store.documents.read("k")
    assert first == {"list": [1]}
    first["list"].append(3)
    assert await store.documents.read("k") == ({"list": [1]}, 1)


async def test_concurrent_writers_exactly_one_wins(store: Store, peer: Store) -> None:
    await store.documents.write("state", {"writer": None}, 0)
    writers = [(store if i % 2 else peer, i) for i in range(10)]
    results = await asyncio.gather(
        *(s.documents.write("state", {"writer": i}, 1) for s, i in writers)
    )
    winners = [i for (_, i), rev in zip(writers, results, strict=True) if rev is not None]
    assert len(winners) == 1, results
    assert results[winners[0]] == 2
    assert await store.documents.read("state") == ({"writer": winners[0]}, 2)


async def test_delete_removes_and_a_new_document_starts_at_revision_one(store: Store) -> None:
    await store.documents.write("flags", {"kill": True}, 0)
    await store.documents.write("flags", {"kill": False}, 1)
    await store.documents.delete("flags")
    assert await store.documents.read("flags") == (None, 0)
    await store.documents.delete("flags")  # absent: no error
    assert await store.documents.write("flags", {"kill": True}, 2) is None
    assert await store.documents.write("flags", {"kill": True}, 0) == 1


async def test_keys_with_odd_characters_are_distinct(store: Store) -> None:
    keys = ["a/b", "a%2Fb", "a:b", "..", ".", "ü ñ", "x" * 300, "x" * 301]
    for n, key in enumerate(keys):
        assert await store.documents.write(key, {"n": n}, 0) == 1
    for n, key in enumerate(keys):
        assert await store.documents.read(key) == ({"n": n}, 1)


# -- assignments ----------------------------------------------------------------------------------


async def test_unknown_subjects_are_left_out(store: Store) -> None:
    assert await store.assignments.get_arms("checkout:v1", ["u1", "u2"]) == {}
    assert await store.assignments.get_arms("checkout:v1", []) == {}


async def test_many_subjects_in_one_put_and_one_get(store: Store, peer: Store) -> None:
    arms = {f"user-{i}": ("candidate" if i % 3 == 0 else "baseline") for i in range(2000)}
    await store.assignments.put_arms("checkout:v1", arms, ttl_seconds=60)
    asked = [*arms, "stranger-1", "stranger-2"]
    assert await peer.assignments.get_arms("checkout:v1", asked) == arms


async def test_put_overwrites_and_keeps_others(store: Store) -> None:
    await store.assignments.put_arms("s", {"a": "baseline", "b": "baseline"}, 60)
    await store.assignments.put_arms("s", {"b": "candidate"}, 60)
    assert await store.assignments.get_arms("s", ["a", "b"]) == {
        "a": "baseline",
        "b": "candidate",
    }


async def test_assignments_expire_after_their_ttl(store: Store) -> None:
    await store.assignments.put_arms("s", {"short": "candidate"}, ttl_seconds=0.3)
    await store.assignments.put_arms("s", {"long": "baseline"}, ttl_seconds=30)
    assert await store.assignments.get_arms("s", ["short", "long"]) == {
        "short": "candidate",
        "long": "baseline",
    }
    await asyncio.sleep(0.45)
    assert await store.assignments.get_arms("s", ["short", "long"]) == {"long": "baseline"}


async def test_clear_drops_one_scope_only(store: Store, peer: Store) -> None:
    await store.assignments.put_arms("checkout:v1", {"u1": "candidate", "u2": "baseline"}, 60)
    await store.assignments.put_arms("checkout:v10", {"u1": "baseline"}, 60)
    await store.assignments.put_arms("search:v1", {"u1": "candidate"}, 60)
    await peer.assignments.clear_arms("checkout:v1")
    assert await store.assignments.get_arms("checkout:v1", ["u1", "u2"]) == {}
    assert await store.assignments.get_arms("checkout:v10", ["u1"]) == {"u1": "baseline"}
    assert await store.assignments.get_arms("search:v1", ["u1"]) == {"u1": "candidate"}
    await store.assignments.put_arms("checkout:v1", {"u2": "candidate"}, 60)
    assert await peer.assignments.get_arms("checkout:v1", ["u1", "u2"]) == {"u2": "candidate"}
    await store.assignments.clear_arms("never-used")


async def test_scopes_with_braces_and_non_positive_ttls_are_refused(store: Store) -> None:
    with pytest.raises(ValueError):
        await store.assignments.put_arms("a{b}", {"u": "baseline"}, 60)
    with pytest.raises(ValueError):
        await store.assignments.get_arms("a}", ["u"])
    with pytest.raises(ValueError):
        await store.assignments.put_arms("s", {"u": "baseline"}, 0)


# -- metric windows -------------------------------------------------------------------------------


async def test_two_replicas_add_into_the_same_bucket(store: Store, peer: Store) -> None:
    await store.metrics.add("checkout", 600, {"requests": 3, "latency_sum": 1.5, "le_0.5": 2})
    await peer.metrics.add("checkout", 600, {"requests": 2, "latency_sum": 0.25, "errors": 1})
    await peer.metrics.add("checkout", 660, {"requests": 1})
    await store.metrics.add("search", 600, {"requests": 100})
    assert await store.metrics.read("checkout", 600, 720) == {
        600: {"requests": 5.0, "latency_sum": 1.75, "le_0.5": 2.0, "errors": 1.0},
        660: {"requests": 1.0},
    }
    assert await peer.metrics.read("search", 0, 10**10) == {600: {"requests": 100.0}}


async def test_read_range_includes_start_and_excludes_end(store: Store) -> None:
    for bucket in (0, 60, 120, 180):
        await store.metrics.add("r", bucket, {"n": bucket + 1})
    assert await store.metrics.read("r", 60, 180) == {60: {"n": 61.0}, 120: {"n": 121.0}}
    assert await store.metrics.read("r", 61, 120) == {}
    assert await store.metrics.read("other", 0, 1000) == {}


async def test_concurrent_adds_lose_nothing(store: Store, peer: Store) -> None:
    await asyncio.gather(
        *(s.metrics.add("r", 60, {"n": 1, "sum": 0.1}) for s in [store, peer] * 50)
    )
    window = (await store.metrics.read("r", 60, 61))[60]
    assert window["n"] == 100.0
    assert window["sum"] == pytest.approx(10.0)


async def test_windows_expire_after_retention(backend: Backend) -> None:
    store = backend.open(metrics_retention=0.3)
    await store.metrics.add("r", 60, {"n": 1})
    assert await store.metrics.read("r", 0, 100) == {60: {"n": 1.0}}
    await asyncio.sleep(0.45)
    assert await store.metrics.read("r", 0, 100) == {}


async def test_non_finite_values_are_refused(store: Store) -> None:
    with pytest.raises(ValueError):
        await store.metrics.add("r", 60, {"n": float("nan")})
    with pytest.raises(ValueError):
        await store.metrics.add("r", 60, {"n": float("inf")})
    assert await store.metrics.read("r", 0, 100) == {}


# -- distinct subjects ----------------------------------------------------------------------------


async def test_replicas_count_the_union_of_their_subjects(store: Store, peer: Store) -> None:
    await store.subjects.add("checkout", {600: ["a", "b", "c"]})
    await peer.subjects.add("checkout", {600: ["b", "c", "d"], 610: ["d", "e"]})
    await peer.subjects.add("search", {600: ["z"]})
    assert await store.subjects.count("checkout", 0) == 5
    assert await peer.subjects.count("checkout", 600) == 5
    assert await store.subjects.count("checkout", 601) == 2  # only bucket 610: d, e
    assert await store.subjects.count("checkout", 611) == 0
    assert await store.subjects.count("search", 0) == 1
    assert await store.subjects.count("nobody", 0) == 0


async def test_a_subject_seen_again_later_counts_once_in_every_window(store: Store) -> None:
    await store.subjects.add("r", {0: ["u1", "u2"], 10: ["u1"]})
    await store.subjects.add("r", {20: ["u1", "u3"]})
    assert [await store.subjects.count("r", since) for since in (0, 10, 20, 30)] == [3, 2, 2, 0]


async def test_empty_adds_change_nothing(store: Store) -> None:
    await store.subjects.add("r", {})
    await store.subjects.add("r", {60: []})
    assert await store.subjects.count("r", 0) == 0


async def test_many_subjects_over_many_buckets(store: Store, peer: Store) -> None:
    # 1500 buckets: more than one Redis count takes at once (it merges them in chunks).
    await store.subjects.add("r", {10 * b: [f"user-{b}", f"user-{b + 1}"] for b in range(1500)})
    await peer.subjects.add("r", {0: [f"user-{n}" for n in range(3000)]})
    assert await store.subjects.count("r", 0) == pytest.approx(3000, rel=0.03)
    assert await store.subjects.count("r", 10 * 1000) == pytest.approx(501, rel=0.03)


async def test_subject_buckets_expire_after_retention(backend: Backend) -> None:
    store = backend.open(metrics_retention=0.3)
    await store.subjects.add("r", {60: ["a", "b"]})
    assert await store.subjects.count("r", 0) == 2
    await asyncio.sleep(0.45)
    assert await store.subjects.count("r", 0) == 0
    await store.subjects.add("r", {70: ["a"]})
    assert await store.subjects.count("r", 0) == 1


# -- audit log ------------------------------------------------------------------------------------


async def test_audit_reads_back_in_order_with_ids_and_timestamps(store: Store, peer: Store) -> None:
    before = time.time()
    ids = [
        await store.audit.append({"rollout": "checkout", "action": "promote", "n": 1}),
        await peer.audit.append({"rollout": "search", "action": "pause", "n": 2}),
        await store.audit.append({"action": "config_reload", "n": 3, "ts": 12.5}),
    ]
    assert all(isinstance(i, str) for i in ids)
    entries = await peer.audit.read()
    assert [e["n"] for e in entries] == [1, 2, 3]
    assert [e["id"] for e in entries] == ids
    assert before <= entries[0]["ts"] <= time.time()
    assert entries[2]["ts"] == 12.5
    assert entries[0] == {
        "id": ids[0],
        "ts": entries[0]["ts"],
        "rollout": "checkout",
        "action": "promote",
        "n": 1,
    }


async def test_audit_filters_by_rollout_and_keeps_the_newest(store: Store) -> None:
    for n in range(30):
        await store.audit.append({"rollout": "checkout" if n % 3 else "search", "n": n})
    assert [e["n"] for e in await store.audit.read(limit=4)] == [26, 27, 28, 29]
    assert [e["n"] for e in await store.audit.read("search", limit=3)] == [21, 24, 27]
    assert [e["n"] for e in await store.audit.read("checkout", limit=100)] == [
        n for n in range(30) if n % 3
    ]
    assert await store.audit.read("nobody") == []
    assert await store.audit.read(limit=0) == []


async def test_audit_ids_are_reserved(store: Store) -> None:
    with pytest.raises(ValueError):
        await store.audit.append({"id": "mine"})
    assert await store.audit.read() == []


# -- shadow pairs ---------------------------------------------------------------------------------


async def test_pairs_keep_the_newest_per_rollout(store: Store, peer: Store) -> None:
    for n in range(12):
        await store.pairs.add("checkout" if n % 2 else "search", {"n": n}, keep=4)
    assert [p["n"] for p in await peer.pairs.read("checkout")] == [5, 7, 9, 11]
    assert [p["n"] for p in await peer.pairs.read("search", limit=2)] == [8, 10]
    assert await peer.pairs.read("nobody") == []
    assert await peer.pairs.read("search", limit=0) == []


# -- leader lock ----------------------------------------------------------------------------------


async def test_lock_is_exclusive_and_renewable(store: Store, peer: Store) -> None:
    assert await store.leader.acquire("controller", "a", 5)
    assert not await peer.leader.acquire("controller", "b", 5)
    assert await store.leader.acquire("controller", "a", 5)  # renewal
    assert await peer.leader.acquire("other-lock", "b", 5)  # names are independent


async def test_only_the_owner_releases(store: Store, peer: Store) -> None:
    assert await store.leader.acquire("controller", "a", 5)
    assert not await peer.leader.release("controller", "b")
    assert not await peer.leader.acquire("controller", "b", 5)
    assert await store.leader.release("controller", "a")
    assert not await store.leader.release("controller", "a")
    assert await peer.leader.acquire("controller", "b", 5)


async def test_lock_expires_unless_renewed(store: Store, peer: Store) -> None:
    assert await store.leader.acquire("expiring", "a", 0.3)
    assert await store.leader.acquire("renewed", "a", 0.3)
    await asyncio.sleep(0.2)
    assert await store.leader.acquire("renewed", "a", 0.3)
    await asyncio.sleep(0.2)  # 0.4 s after the first acquire, 0.2 s after the renewal
    assert await peer.leader.acquire("expiring", "b", 5)
    assert not await peer.leader.acquire("renewed", "b", 5)
    assert not await store.leader.release("expiring", "a")


# -- notifications --------------------------------------------------------------------------------


async def test_subscriber_gets_a_published_message_within_a_second(
    store: Store, peer: Store
) -> None:
    async with peer.notifications.subscribe("rollouts") as sub:
        assert await sub.wait_subscribed(1.0)
        started = time.monotonic()
        await store.notifications.publish("rollouts", {"rollout": "checkout", "rev": 7})
        assert await next_message(sub) == {"rollout": "checkout", "rev": 7}
        assert time.monotonic() - started < 1.0


async def test_every_subscriber_gets_every_message_of_its_channel_in_order(
    store: Store, peer: Store
) -> None:
    async with (
        peer.notifications.subscribe("a") as first,
        store.notifications.subscribe("a") as second,
        peer.notifications.subscribe("b") as other,
    ):
        for sub in (first, second, other):
            assert await sub.wait_subscribed(1.0)
        for n in range(5):
            await store.notifications.publish("a", {"n": n})
        await store.notifications.publish("b", {"n": "b"})
        for sub in (first, second):
            assert [(await next_message(sub))["n"] for _ in range(5)] == [0, 1, 2, 3, 4]
        assert await next_message(other) == {"n": "b"}


async def test_iteration_ends_when_the_subscription_closes(store: Store) -> None:
    async with store.notifications.subscribe("c") as sub:
        assert await sub.wait_subscribed(1.0)
        await store.notifications.publish("c", {"n": 1})
        assert await next_message(sub) == {"n": 1}
    with pytest.raises(StopAsyncIteration):
        await anext(sub)


async def test_closing_the_store_ends_open_subscriptions(backend: Backend) -> None:
    store = backend.open()
    sub = await store.notifications.subscribe("c").__aenter__()
    waiting = asyncio.create_task(anext(sub))
    await asyncio.sleep(0.05)
    await store.close()
    async with asyncio.timeout(1):
        with pytest.raises(StopAsyncIteration):
            await waiting


# -- the store as a whole -------------------------------------------------------------------------


async def test_ping_and_kind(store: Store, backend: Backend) -> None:
    assert store.kind == backend.kind
    assert await store.ping() is True


async def test_values_that_are_not_json_are_refused_before_anything_is_stored(
    store: Store,
) -> None:
    with pytest.raises(TypeError):
        await store.documents.write("k", {"when": object()}, 0)
    with pytest.raises(TypeError):
        await store.audit.append({"when": object()})
    assert await store.documents.read("k") == (None, 0)
    assert await store.audit.read() == []
