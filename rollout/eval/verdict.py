"""One verdict for an eval run, from its gates, as seed practice has it: pass (every primary gate
met), conditional pass (a secondary gate not met: an approver signs off), fail (a primary gate
shown past its bound), could not tell (the run stopped early, or a primary gate had too little
data or an interval that straddles its bound) — never a pass and never a fail."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rollout.eval.gates import GateOutcome

Overall = Literal["pass", "conditional_pass", "fail", "could_not_tell"]
EXIT_CODES: dict[Overall, int] = {"pass": 0, "fail": 1, "conditional_pass": 2, "could_not_tell": 3}


@dataclass(frozen=True, slots=True)
class Verdict:
    overall: Overall
    reasons: tuple[str, ...]

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.overall]


def overall_verdict(outcomes: Sequence[GateOutcome], stopped: str | None) -> Verdict:
    judged = [o for o in outcomes if o.verdict != "live_only"]
    failed = [o for o in judged if o.klass == "primary" and o.verdict == "fail" and not o.holds]
    if failed:
        return Verdict("fail", tuple(_why(o) for o in failed))
    if stopped is not None:
        return Verdict("could_not_tell", (f"the run stopped early: {stopped}",))
    unsure = [o for o in judged if o.klass == "primary" and not o.holds]
    if unsure:
        return Verdict("could_not_tell", tuple(_why(o) for o in unsure))
    secondary = [o for o in judged if o.klass == "secondary" and not o.holds]
    if secondary:
        return Verdict("conditional_pass", tuple(_why(o) for o in secondary))
    return Verdict("pass", ("every gate met",))


def _why(o: GateOutcome) -> str:
    return f"{o.gate} ({o.klass}, {o.bound}): {o.verdict.replace('_', ' ')}: {o.reason}"
