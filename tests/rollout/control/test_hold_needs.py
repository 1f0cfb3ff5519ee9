"""What a gate still needs, projected from its interval and the window's rate; and the rule that
flags a gate that cannot get data. Table tests over hand-built results and snapshots."""

from __future__ import annotations

import pytest

from rollout.config.gates import Bound
from rollout.control.gates import GateResult
from rollout.control.hold_needs import GateNeed, gate_need, unobservable
from rollout.control.snapshot import Snapshot
from rollout.stats.gate_stats import Interval

DELTA = Bound(max_delta_to_baseline=0.01)
AT_MOST = Bound(max=0.05)
AT_LEAST = Bound(min=0.9)
N400 = (400, 0)


def result(verdict: str, samples=(400, 400), promote=None, rollback=None, metric="error_rate"):
    return GateResult(
        gate=metric,
        metric=metric,
        klass="primary",
        verdict=verdict,  # type: ignore[arg-type]
        bound="",
        reason="r",
        samples=samples,
        interval=promote,
        rollback_interval=rollback,
    )


def snap(requests: int, **fields: int) -> Snapshot:
    return Snapshot(requests=requests, **fields)


@pytest.mark.parametrize(
    ("res", "bound", "base", "cand", "elapsed", "expected"),
    [
        # decided: nothing needed
        (result("pass"), DELTA, snap(400), snap(400), 60, None),
        (result("fail"), DELTA, snap(400), snap(400), 60, None),
        # no_data: 60 more candidate samples, one per request, at 40/min: 1.5 min
        (result("no_data", (40, 500)), DELTA, snap(500), snap(40), 60, GateNeed("", 60, 1.5)),
        # the baseline is the short side, and gets 1 request for the candidate's 30 (a late
        # stage): its 90 missing samples take 2700 more candidate requests, 9 min at 300/min
        (result("no_data", (300, 10)), DELTA, snap(10), snap(300), 60, GateNeed("", 2700, 9.0)),
        # json_validity counts 1 call in 4: 80 more checks take 320 more requests
        (
            result("no_data", (20, 0), metric="json_validity"),
            AT_LEAST,
            snap(0),
            snap(80, json_checks=20),
            120,
            GateNeed("", 320, 8.0),
        ),
        # no sample at all in 80 requests: nothing to project from
        (
            result("no_data", (0, 0), metric="json_validity"),
            AT_LEAST,
            snap(0),
            snap(80),
            120,
            GateNeed("cannot project: no sample yet"),
        ),
        # inconclusive, leaning to pass: half-width 0.04 above 0.03, margin 0.02 to 0.05:
        # 400·((0.04/0.02)² - 1) = 1200 more, at 400/min: 3 min
        (
            result(
                "inconclusive", (400, 0), Interval(0.03, 0.0, 0.07), Interval(0.03, -0.01, 0.08)
            ),
            AT_MOST,
            snap(0),
            snap(400),
            60,
            GateNeed("to pass", 1200, 3.0),
        ),
        # leaning to fail: estimate 0.07 past 0.05 by 0.02, rollback low end 0.03 (half 0.04)
        (
            result(
                "inconclusive", (400, 0), Interval(0.07, 0.05, 0.09), Interval(0.07, 0.03, 0.11)
            ),
            AT_MOST,
            snap(0),
            snap(400),
            60,
            GateNeed("to fail", 1200, 3.0),
        ),
        # a `min` bound mirrors it: estimate 0.95 above 0.9, low end 0.85 (half 0.1, margin 0.05)
        (
            result("inconclusive", (100, 0), Interval(0.95, 0.85, 0.99), Interval(0.95, 0.8, 1.0)),
            AT_LEAST,
            snap(0),
            snap(100),
            60,
            GateNeed("to pass", 300, 3.0),
        ),
        # the estimate on the bound: no amount of data is sure to decide
        (
            result(
                "inconclusive", (400, 0), Interval(0.05, 0.03, 0.07), Interval(0.05, 0.02, 0.08)
            ),
            AT_MOST,
            snap(0),
            snap(400),
            60,
            GateNeed("may never decide: the estimate sits on the bound"),
        ),
        # next to it (more than 100 times the samples seen): the same
        (
            result(
                "inconclusive", (400, 0), Interval(0.049, 0.03, 0.068), Interval(0.049, 0.0, 0.1)
            ),
            AT_MOST,
            snap(0),
            snap(400),
            60,
            GateNeed("may never decide: the estimate sits on the bound"),
        ),
        # no rate yet (no time elapsed): requests without minutes
        (result("no_data", (40, 500)), DELTA, snap(500), snap(40), 0, GateNeed("", 60)),
    ],
)
def test_what_a_gate_still_needs(res, bound, base, cand, elapsed, expected) -> None:
    assert gate_need(res, bound, 100, base, cand, elapsed) == expected


@pytest.mark.parametrize(
    ("metric", "relative", "base", "cand", "elapsed", "expected"),
    [
        # JSON gate, no JSON-mode request in 150 over 10 minutes
        (
            "json_validity",
            False,
            snap(0),
            snap(150),
            600,
            "0 samples in 150 candidate requests over 10 min: no candidate request asked for"
            " JSON output (response_format)",
        ),
        # not long enough, or not enough requests, or one sample: not flagged
        ("json_validity", False, snap(0), snap(150), 599, None),
        ("json_validity", False, snap(0), snap(99), 900, None),
        ("json_validity", False, snap(0), snap(150, json_checks=1), 900, None),
        # an unpriced candidate model
        (
            "cost_per_1k",
            False,
            snap(0),
            snap(300, priced=0),
            1200,
            "0 samples in 300 candidate requests over 20 min: no candidate call was priced:"
            " add the model under observe.prices",
        ),
        # an unpriced baseline model, on a bound relative to it
        (
            "cost_per_1k",
            True,
            snap(300),
            snap(300, priced=300),
            1200,
            "0 samples in 300 baseline requests over 20 min: no baseline call was priced:"
            " add the model under observe.prices",
        ),
        # ...but an absolute bound does not look at the baseline
        ("cost_per_1k", False, snap(300), snap(300, priced=300), 1200, None),
        # error rates have a sample per request: never unobservable
        ("error_rate", True, snap(300), snap(300), 1200, None),
    ],
)
def test_unobservable(metric, relative, base, cand, elapsed, expected) -> None:
    assert unobservable(metric, relative, base, cand, elapsed) == expected
