"""Fixtures of the rollout tests: the store, embedded and on a real Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from rollout.store import Store, open_store


@pytest.fixture(params=["embedded", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    url = request.getfixturevalue("redis_server").url if request.param == "redis" else None
    opened = open_store(
        url, tmp_path / "data", key_prefix=f"t{uuid.uuid4().hex[:10]}:", timeout=2.0
    )
    yield opened
    await opened.close()
