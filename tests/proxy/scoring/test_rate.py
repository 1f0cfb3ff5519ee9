"""The calls-per-minute limit: never more than N calls in any 60 seconds."""

from __future__ import annotations

import pytest

from proxy.scoring.rate import CallsPerMinute


def test_at_most_n_calls_in_any_minute() -> None:
    now = [0.0]
    rate = CallsPerMinute(3, clock=lambda: now[0])
    assert rate.allow(2) and not rate.allow(2) and rate.allow(1)
    assert not rate.allow(1)
    now[0] = 59.9
    assert not rate.allow(1)  # the first calls are still within the minute
    now[0] = 60.0
    assert rate.allow(3) and rate.used() == 3
    assert rate.allow(0)  # an answer scored by builtin scorers only makes no call


def test_a_job_larger_than_the_limit_is_never_admitted() -> None:
    rate = CallsPerMinute(2, clock=lambda: 0.0)
    assert not rate.allow(3) and rate.used() == 0


def test_the_limit_is_positive() -> None:
    with pytest.raises(ValueError):
        CallsPerMinute(0)
