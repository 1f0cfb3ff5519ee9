"""The eval's report as one JSON document: the verdict first, every gate with its numbers, each
arm's summary, slices by tag and by expectation kind, and the worst regressed cases with both
answers side by side (redacted as shadow pairs are). Markdown, JUnit and the terminal summary
are renderings of this document, so every format says the same thing."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rollout.config.metrics import METRICS
from rollout.eval.dataset import Case
from rollout.eval.gates import GateOutcome
from rollout.eval.noise import disagreement
from rollout.eval.result import ARMS, Call, EvalRun
from rollout.eval.score_report import judges_doc, scores_doc
from rollout.eval.verdict import Verdict
from rollout.quality.redact import Redactor, clip_strings
from rollout.stats.gate_stats import wilson

UNITS = {"proportion": "rate", "quantile": "seconds", "cost": "usd_per_1k"}
TEXT_CAP = 1_500  # characters of an answer shown in a regressed case
WORST = 10  # regressed cases listed


@dataclass(frozen=True, slots=True)
class EvalReport:
    run: EvalRun
    tier: str
    gates: Sequence[GateOutcome]
    verdict: Verdict
    cases: Sequence[Case]
    redactor: Redactor
    confidence: float = 0.95


def report_doc(report: EvalReport) -> dict[str, Any]:
    run = report.run
    return {
        "verdict": report.verdict.overall,
        "exit_code": report.verdict.exit_code,
        "reasons": list(report.verdict.reasons),
        "rollout": run.rollout,
        "version": run.version,
        "tier": report.tier,
        "dataset": {"path": run.dataset, "digest": run.dataset_digest, "cases": run.cases},
        "repeat": run.repeat,
        "run": {
            "calls": len(run.calls),
            "cache_hits": run.cache_hits,
            "spent_usd": round(run.spent_usd, 6),
            "estimate_usd": run.estimate_usd,
            "seconds": round(run.seconds, 3),
            "stopped": run.stopped,
        },
        "gates": [gate_doc(g) for g in report.gates],
        "arms": {arm: arm_summary(run.of(arm)) for arm in ARMS},
        "noise": disagreement(run.calls, report.confidence),
        "slices": slices(run.calls, report.cases, report.confidence),
        "scores": scores_doc(run, report.confidence),
        "judges": judges_doc(run, report.confidence),
        "regressions": regressions(run.calls, report.cases, report.redactor),
    }


def gate_doc(g: GateOutcome) -> dict[str, Any]:
    interval = g.interval
    return {
        "gate": g.gate,
        "metric": g.metric,
        "unit": UNITS.get(METRICS[g.metric].kind, ""),
        "class": g.klass,
        "verdict": g.verdict,
        "bound": g.bound,
        "tested": g.tested,
        "baseline": g.baseline,
        "candidate": g.candidate,
        "interval": (
            None
            if interval is None
            else {"value": interval.value, "low": interval.low, "high": interval.high}
        ),
        "p_worse": g.p_worse,
        "samples": g.samples,
        "reason": g.reason,
        "waived": g.waived,
    }


def arm_summary(calls: Sequence[Call]) -> dict[str, Any]:
    answered = [c for c in calls if c.answer.error is None]
    checked = [c for c in calls if c.passed is not None]
    durations = sorted(c.duration for c in answered if c.duration is not None)
    costs = [c.cost_usd for c in calls if c.cost_usd is not None]
    return {
        "calls": len(calls),
        "errors": len(calls) - len(answered),
        "refusals": sum(c.answer.refused for c in answered),
        "expect_passed": sum(bool(c.passed) for c in checked),
        "expect_checked": len(checked),
        "latency_p50": _nearest_rank(durations, 0.5),
        "latency_p95": _nearest_rank(durations, 0.95),
        "cost_usd": round(sum(costs), 6) if costs else None,
    }


def _nearest_rank(ordered: Sequence[float], q: float) -> float | None:
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, max(0, int(q * len(ordered) + 0.5) - 1))]


def slices(calls: Iterable[Call], cases: Sequence[Case], confidence: float) -> list[dict]:
    """Expectation pass rates per tag and per expectation kind, each arm with its interval."""
    tags = {case.id: case.tags for case in cases}
    counts: dict[tuple[str, str], dict[str, list[int]]] = defaultdict(
        lambda: {arm: [0, 0] for arm in ARMS}
    )
    for call in calls:
        if call.passed is None:
            continue
        for tag in tags.get(call.case, ()):
            _count(counts[("tag", tag)][call.arm], bool(call.passed))
        for check in call.checks:
            _count(counts[("expect", check.kind)][call.arm], check.passed)
    out = []
    for (kind, name), arms in sorted(counts.items()):
        row: dict[str, Any] = {"slice": f"{kind}:{name}"}
        for arm, (passed, total) in arms.items():
            interval = wilson(passed, total, confidence) if total else None
            row[arm] = {
                "passed": passed,
                "total": total,
                "rate": passed / total if total else None,
                "interval": None if interval is None else [interval.low, interval.high],
            }
        out.append(row)
    return out


def _count(cell: list[int], passed: bool) -> None:
    cell[0] += passed
    cell[1] += 1


def regressions(
    calls: Iterable[Call], cases: Sequence[Case], redactor: Redactor, worst: int = WORST
) -> list[dict[str, Any]]:
    """Cases the baseline got right and the candidate did not (an error, or an expectation that
    held for the baseline and failed for the candidate), most failed checks first."""
    by_case: dict[str, dict[str, Call]] = defaultdict(dict)
    for call in calls:
        if call.repeat == 0:
            by_case[call.case][call.arm] = call
    found = []
    for case in cases:
        pair = by_case.get(case.id, {})
        base, cand = pair.get("baseline"), pair.get("candidate")
        if base is None or cand is None:
            continue
        lost = _lost_checks(base, cand)
        newly_failed = cand.answer.error is not None and base.answer.error is None
        if lost or newly_failed:
            found.append((len(lost) + newly_failed, case, base, cand, lost))
    found.sort(key=lambda f: (-f[0], f[1].id))
    return [_regression(case, b, c, lost, redactor) for _, case, b, c, lost in found[:worst]]


def _lost_checks(base: Call, cand: Call) -> list[str]:
    held = {(c.kind, i) for i, c in enumerate(base.checks) if c.passed}
    return [c.reason for i, c in enumerate(cand.checks) if not c.passed and (c.kind, i) in held]


def _regression(
    case: Case, base: Call, cand: Call, lost: list[str], redactor: Redactor
) -> dict[str, Any]:
    return {
        "case": case.id,
        "tags": list(case.tags),
        "request": clip_strings(redactor.redact_json(case.request), TEXT_CAP),
        "failed": lost or [f"the call failed: {cand.answer.error}"],
        "baseline": _side(base, redactor),
        "candidate": _side(cand, redactor),
    }


def _side(call: Call, redactor: Redactor) -> dict[str, Any]:
    text = call.answer.text
    return {
        "model": call.model,
        "error": call.answer.error,
        "refused": call.answer.refused,
        "text": None if text is None else redactor.redact(clip_strings(text, TEXT_CAP)),
    }
