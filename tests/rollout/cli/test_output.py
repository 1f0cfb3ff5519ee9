"""One-line summaries of `rollout status`: the shadow, scoring, regression test and eval rows."""

from __future__ import annotations

import pytest

from rollout.cli.output import (
    eval_line,
    regression_test_line,
    rollout_rows,
    scoring_summary,
    shadow_summary,
)

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


@pytest.mark.parametrize(
    ("test", "expected"),
    [
        (None, "none (breaches only)"),
        ({"requests": 500, "made": []}, "due at 500 first-stage candidate requests"),
        (
            {"requests": 500, "made": ["error_rate", "latency_p95"]},
            "made for error_rate, latency_p95",
        ),
    ],
)
def test_regression_test_line(test: dict | None, expected: str) -> None:
    assert regression_test_line(test) == expected


def test_the_regression_test_row_is_the_controllers() -> None:
    entry = {"automatic": True, "regression_test": {"requests": 500, "made": []}}
    rows = dict(rollout_rows(entry, 0.0))
    assert rows["regression test"] == "due at 500 first-stage candidate requests"
    assert "regression test" not in dict(rollout_rows({"automatic": False}, 0.0))


@pytest.mark.parametrize(
    ("view", "expected"),
    [
        (None, "-"),
        (
            {"required": "prod", "standing": "missing", "verdict": None},
            "required at prod, none recorded",
        ),
        (
            {
                "required": None,
                "standing": None,
                "verdict": "pass",
                "tier": "dev",
                "dataset_digest": "abc123def456",
                "by": "alice",
                "at": 1_000_000.0,
            },
            "pass at tier dev, dataset abc123def456, by alice, 1970-01-12T13:46:40Z (1m 5s ago)",
        ),
        (
            {
                "required": "prod",
                "standing": "failed",
                "verdict": "fail",
                "tier": "prod",
                "dataset_digest": "abc123def456",
                "by": "alice",
                "at": 1_000_000.0,
            },
            "fail at tier prod, dataset abc123def456, by alice, 1970-01-12T13:46:40Z (1m 5s ago);"
            " required at prod: failed",
        ),
    ],
    ids=["none", "none recorded", "not required", "required"],
)
def test_eval_line(view: dict | None, expected: str) -> None:
    assert eval_line(view, 1_000_065.0) == expected


SCORING = {
    "active": True,
    "scorers": ["safety", "style"],
    "sample": {"baseline": 0.05, "candidate": 0.2},
    "shadow": 0.1,
    "queued": 0,
    "in_flight": 1,
    "calls_last_minute": None,
    "budget": None,
}


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            {},
            "safety, style on baseline 5%, candidate 20%, shadow 10%; queue 0 waiting, 1 running",
        ),
        (
            {
                "active": False,
                "calls_last_minute": 12,
                "budget": {"spent_last_hour": 2.0, "usd_per_hour": 2, "paused": True},
            },
            "not scoring (killed or ended); safety, style on baseline 5%, candidate 20%,"
            " shadow 10%; queue 0 waiting, 1 running; 12 calls in the last minute;"
            " $2.0000 of $2/h, PAUSED",
        ),
    ],
)
def test_scoring_summary(extra: dict, expected: str) -> None:
    assert scoring_summary(SCORING | extra) == expected


def test_the_scoring_row_shows_in_status() -> None:
    rows = rollout_rows({"automatic": False, "scoring": SCORING}, 0.0)
    assert ["scoring", scoring_summary(SCORING)] in rows
