"""One-line summaries of `rollout status`: the shadow row, the regression test row, the eval row."""

from __future__ import annotations

import pytest

from rollout.cli.output import eval_line, regression_test_line, rollout_rows, shadow_summary

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
