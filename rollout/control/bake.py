"""What the bake at 100% is judged against. With every subject on the candidate there is no live
baseline left, so a gate relative to the baseline has no data there; completing on "no data"
would be completing unjudged. During the bake such gates are judged against the baseline of the
earlier stages instead: the live counts carried in the state (gross.py `carried`), so error and
refusal gates keep a reference. Gates on histograms or cost (no counts carried) stay no_data, and
the decision that completes names each primary gate that had none, so the audit says so.
"""

from __future__ import annotations

from collections.abc import Mapping

from rollout.control.gates import GateResult
from rollout.control.snapshot import Snapshot


def bake_reference(carried: Mapping[str, int]) -> Snapshot:
    """The earlier stages' live baseline, from the carried counts."""
    return Snapshot(
        requests=carried.get("baseline_requests", 0),
        errors=carried.get("baseline_errors", 0),
        refusals=carried.get("baseline_refusals", 0),
    )


def bake_notes(
    carried: Mapping[str, int], results: tuple[GateResult, ...], live_baseline: bool
) -> tuple[str, ...]:
    """What the bake was judged against (unless a live baseline was left), and each primary
    gate it could not judge."""
    n = carried.get("baseline_requests", 0)
    notes = (
        []
        if live_baseline
        else [f"bake judged against the earlier stages' baseline ({n} requests)"]
    )
    notes += [
        f"{r.gate}: no data during the bake ({r.reason}); judged before 100% only"
        for r in results
        if r.klass == "primary" and r.verdict == "no_data"
    ]
    return tuple(notes)
