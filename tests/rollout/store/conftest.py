"""Fixtures for the store tests: a real redis-server, and stores of both kinds.

`store` runs each contract test against both implementations. `peer` is a second replica's view
of the same store: another Store object on the same Redis (same key prefix), or, embedded being
single-process, the very same object.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from rollout.store import Store, open_store


@dataclass
class Backend:
    kind: str
    url: str | None
    data_dir: Path
    prefix: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:10]}:")
    opened: list[Store] = field(default_factory=list)

    def open(self, **options: Any) -> Store:
        options.setdefault("key_prefix", self.prefix)
        # The contract is about results, not speed: a loaded 2-core CI machine can take longer
        # than the production default (0.25 s) for one call. Failure tests set their own.
        options.setdefault("timeout", 2.0)
        store = open_store(self.url, self.data_dir, **options)
        self.opened.append(store)
        return store


@pytest.fixture(params=["embedded", "redis"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    url = request.getfixturevalue("redis_server").url if request.param == "redis" else None
    backend = Backend(request.param, url, tmp_path / "data")
    yield backend
    for store in reversed(backend.opened):
        await store.close()


@pytest.fixture
async def store(backend: Backend) -> Store:
    return backend.open()


@pytest.fixture
async def peer(backend: Backend, store: Store) -> Store:
    return store if backend.kind == "embedded" else backend.open()
