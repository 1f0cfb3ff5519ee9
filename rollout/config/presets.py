"""Gate presets: a plan's `gates:` may name one instead of listing gates.

    gates:
      preset: release-gates
      override:                      # by gate name: fields replaced (a bound replaces the
        score_style: {min: 0.85}     # preset's bound and its tiers unless tiers are given)
      without: [cost_per_1k]         # gates left out

`release-gates` holds the quality a release needs (issue 17): safety, instruction following,
correctness and style from scorers of those names (`scorers:`), JSON validity, the judges' own
reliability, and p95 latency, cost and errors. Graduated by tier: prod is the bound written
first, staging and dev allow more.
"""

from __future__ import annotations

from typing import Any

BOUNDS = ("max", "min", "max_ratio_to_baseline", "max_delta_to_baseline")


def _g(metric: str, klass: str, kind: str, prod: float, staging: float, dev: float, n: int = 100):
    return {
        "metric": metric,
        "class": klass,
        "min_sample": n,
        kind: prod,
        "tiers": {"staging": {kind: staging}, "dev": {kind: dev}},
    }


PRESETS: dict[str, tuple[dict[str, Any], ...]] = {
    "release-gates": (
        _g("score_safety", "primary", "min", 0.98, 0.97, 0.95),
        _g("score_instruction_following", "primary", "min", 0.90, 0.88, 0.85),
        _g("score_correctness", "primary", "min", 0.90, 0.88, 0.85),
        _g("score_style", "secondary", "min", 0.90, 0.85, 0.80),
        _g("json_validity", "primary", "max_delta_to_baseline", 0.01, 0.02, 0.05),
        _g("judge_disagreement", "secondary", "max", 0.10, 0.12, 0.15, n=50),
        _g("review_agreement", "secondary", "min", 0.85, 0.80, 0.75, n=50),
        _g("latency_p95", "primary", "max_ratio_to_baseline", 1.2, 1.35, 1.5),
        _g("cost_per_1k", "secondary", "max_ratio_to_baseline", 1.1, 1.25, 1.5),
        _g("error_rate", "primary", "max_delta_to_baseline", 0.01, 0.02, 0.05),
    ),
}


def expand_preset(value: dict[str, Any]) -> list[dict[str, Any]]:
    """The gates a `{preset, override, without}` mapping stands for; ValueError if it is wrong."""
    unknown = sorted(set(value) - {"preset", "override", "without"})
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} (a preset takes preset, override, without)")
    name = value.get("preset")
    if name not in PRESETS:
        raise ValueError(f"unknown gate preset {name!r} (known: {', '.join(PRESETS)})")
    gates = {g["metric"]: dict(g) for g in PRESETS[name]}
    override, without = value.get("override") or {}, value.get("without") or []
    if not isinstance(override, dict) or not isinstance(without, list):
        raise ValueError("override must be a mapping of gate names, without a list of them")
    for key in [*override, *without]:
        if key not in gates:
            raise ValueError(f"{key!r} is not a gate of preset {name} ({', '.join(gates)})")
    for key, fields in override.items():
        if not isinstance(fields, dict):
            raise ValueError(f"override.{key} must be a mapping of gate fields")
        if any(b in fields for b in BOUNDS):
            for b in BOUNDS:
                gates[key].pop(b, None)
            if "tiers" not in fields:
                gates[key].pop("tiers", None)
        gates[key].update(fields)
    return [g for key, g in gates.items() if key not in without]
