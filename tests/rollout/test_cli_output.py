"""The one-line shadow summary of `rollout status`: a table over status documents."""

from __future__ import annotations

import pytest

from rollout.cli_output import shadow_summary

BASE = {"active": True, "share": 0.1, "per": "subject", "noise_share": 0.1, "queued": 0}


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"in_flight": 2}, "mirroring 10% per subject, noise 10%; queue 0 waiting, 2 running"),
        (
            {"in_flight": 0, "max_cpu": 0.6, "cpu_share": 0.45},
            "mirroring 10% per subject, noise 10%; queue 0 waiting, 0 running; CPU 45% of 60%",
        ),
        (
            {"in_flight": 0, "max_cpu": 0.6, "cpu_share": 0.72},
            "mirroring 10% per subject, noise 10%; queue 0 waiting, 0 running;"
            " CPU 72% of 60%, BUSY: not mirroring",
        ),
        (  # max_cpu 1: no CPU check, nothing to say about it
            {"in_flight": 0, "max_cpu": 1.0, "cpu_share": 0.0},
            "mirroring 10% per subject, noise 10%; queue 0 waiting, 0 running",
        ),
        (
            {
                "in_flight": 1,
                "budget": {"spent_last_hour": 5.2, "usd_per_hour": 5.0, "paused": True},
            },
            "mirroring 10% per subject, noise 10%; queue 0 waiting, 1 running;"
            " $5.2000 of $5/h, PAUSED",
        ),
    ],
)
def test_shadow_summary(extra: dict, expected: str) -> None:
    assert shadow_summary(BASE | extra) == expected
