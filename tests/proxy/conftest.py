"""Fixtures shared by the proxy's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from proxy.fake_provider import build_app
from tests.support.servers import RunningServer, serve_in_thread


@pytest.fixture(scope="module")
def fake() -> Iterator[RunningServer]:
    """The project's fake LLM provider with default behaviour, one per test module."""
    with serve_in_thread(build_app) as server:
        yield server


@pytest.fixture(scope="module")
def other() -> Iterator[RunningServer]:
    """A second fake provider of the same kind, for traffic routed elsewhere."""
    with serve_in_thread(build_app) as server:
        yield server
