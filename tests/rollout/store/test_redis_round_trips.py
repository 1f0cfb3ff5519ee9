"""Every Redis store operation is one round trip: one write of commands to the socket."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio.connection import AbstractConnection

from rollout.store import Store, open_store
from tests.support.redis_server import RedisServer


@pytest.fixture
async def store(redis_server: RedisServer, tmp_path) -> AsyncIterator[Store]:
    store = open_store(redis_server.url, tmp_path, key_prefix="rt:", timeout=2.0)
    yield store
    await store.close()


async def test_each_operation_is_one_round_trip(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    many = {f"u{i}": "candidate" for i in range(500)}
    calls = {
        "documents.read": lambda: store.documents.read("k"),
        "documents.write": lambda: store.documents.write("k", {"v": 1}, 0),
        "documents.delete": lambda: store.documents.delete("k"),
        "assignments.put (500 subjects)": lambda: store.assignments.put_arms("s", many, 60),
        "assignments.get (500 subjects)": lambda: store.assignments.get_arms("s", [*many]),
        "assignments.clear": lambda: store.assignments.clear_arms("s"),
        "metrics.add (20 fields)": lambda: store.metrics.add(
            "r", 60, {f"le_{i}": 1 for i in range(20)}
        ),
        "metrics.read": lambda: store.metrics.read("r", 0, 600),
        "subjects.add (3 buckets, 500 subjects)": lambda: store.subjects.add(
            "r", {0: [*many], 10: [*many], 20: ["u1"]}
        ),
        "subjects.count": lambda: store.subjects.count("r", 0),
        "audit.append": lambda: store.audit.append({"rollout": "r"}),
        "audit.read": lambda: store.audit.read("r"),
        "leader.acquire": lambda: store.leader.acquire("l", "me", 5),
        "leader.release": lambda: store.leader.release("l", "me"),
        "notifications.publish": lambda: store.notifications.publish("c", {}),
    }
    for call in calls.values():  # warm up: connect, load the Lua scripts
        await call()

    sends = 0
    original = AbstractConnection.send_packed_command

    async def counting(self: AbstractConnection, *args: object, **kwargs: object) -> None:
        nonlocal sends
        sends += 1
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counting)
    counted = {}
    for name, call in calls.items():
        sends = 0
        await call()
        counted[name] = sends
    assert counted == dict.fromkeys(calls, 1)
