"""The report of bench/rollout_bench.py: a markdown table per mode, and the targets."""

from __future__ import annotations

import datetime
import statistics
from collections import Counter
from typing import TYPE_CHECKING, Any

from proxy_bench import git_rev, machine, versions

if TYPE_CHECKING:
    from rollout_bench import Phase

Phases = dict[tuple[str, str], list["Phase"]]  # (mode, setup) -> one phase per round

CPU_TARGET_MS = 0.1  # added proxy CPU per request with the rollout active
ROUND_TRIP_TARGET = 0.01  # "no store round trip per request": background calls only
WARM, PLAIN, COLD = "rollout, warm subjects", "passthrough", "rollout, cold subjects"


def median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def commands(runs: list[Phase]) -> tuple[float, Counter[str], int]:
    """Redis commands per request, the commands by name, and the requests, over every round."""
    total: Counter[str] = Counter()
    for p in runs:
        total += p.commands
    requests = sum(p.completed for p in runs)
    return sum(total.values()) / max(1, requests), total, requests


def round_trips(runs: list[Phase]) -> tuple[float, int]:
    trips = sum(p.round_trips for p in runs)
    return trips / max(1, sum(p.completed for p in runs)), trips


def table(phases: Phases) -> list[str]:
    out = [
        "| mode | path | req/s | lat p50 / p99 ms | proxy CPU ms/req: median (each round) "
        "| Redis commands/req (commands / requests) | Redis round trips/req (round trips) "
        "| errors | other load % |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for (mode, setup), runs in phases.items():
        cpu = median([p.cpu_ms for p in runs])
        each = ", ".join(f"{p.cpu_ms:.3f}" for p in runs if p.cpu_ms is not None)
        per, total, requests = commands(runs)
        trips_per, trips = round_trips(runs)
        out.append(
            f"| {mode} | {setup} | {median([p.rps for p in runs]):.0f} "
            f"| {median([p.lat.get('p50') for p in runs]):.2f} / "
            f"{median([p.lat.get('p99') for p in runs]):.2f} "
            f"| {'-' if cpu is None else f'{cpu:.3f} ({each})'} "
            f"| {per:.4f} ({sum(total.values())} / {requests}) "
            f"| {trips_per:.4f} ({trips}) | {sum(p.errors for p in runs)} "
            f"| {' / '.join(f'{p.other_load:.0f}' for p in runs)} |"
        )
    return out


def targets(phases: Phases, modes: list[str]) -> list[str]:
    out = ["| target | measured | verdict |", "|---|--:|---|"]
    for mode in modes:
        plain = median([p.cpu_ms for p in phases[(mode, PLAIN)]])
        warm = median([p.cpu_ms for p in phases[(mode, WARM)]])
        added = None if plain is None or warm is None else warm - plain
        ok = added is not None and added <= CPU_TARGET_MS
        shown = "-" if added is None else f"{added:+.3f} ms"
        out.append(
            f"| added proxy CPU per request, {mode}: rollout (warm) minus passthrough "
            f"≤ {CPU_TARGET_MS} ms | {shown} | {'PASS' if ok else 'MISS'} |"
        )
    per, _ = round_trips([p for m in modes for p in phases[(m, WARM)]])
    out.append(
        f"| no store round trip per request for returning subjects (< {ROUND_TRIP_TARGET} Redis "
        f"round trips/req) | {per:.4f} | {'PASS' if per < ROUND_TRIP_TARGET else 'MISS'} |"
    )
    return out


def by_name(phases: Phases, setup: str, modes: list[str]) -> str:
    runs = [p for m in modes for p in phases[(m, setup)]]
    per, total, _ = commands(runs)
    trips, _ = round_trips(runs)
    return f"{per:.4f} commands and {trips:.4f} round trips per request; by name {dict(total)}"


def render(phases: Phases, seen: dict[str, float], took: float, modes: dict[str, Any]) -> str:
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    governed = seen.get("arm:baseline", 0) + seen.get("arm:candidate", 0)
    share = seen.get("arm:candidate", 0) / max(1, governed) * 100
    capped = seen.get("flag:cap-some", 0) / max(1, governed) * 100
    names = list(modes)
    shape = "; ".join(f"{m}: {spec}" for m, spec in modes.items())
    return "\n".join(
        [
            f"# Rollout cost benchmark — {now}",
            "",
            f"Machine: {machine()}; {versions()}. Code: {git_rev(None)}. Run took {took:.0f} s.",
            "Non-streaming chat completions, no upstream delay; proxies pinned to core 0, fake "
            "provider, redis-server and load generator to core 1. Modes (per phase): "
            f"{shape}. Rounds interleaved; medians.",
            f"The rollout proxy put {share:.1f}% of its {governed:.0f} governed requests on the "
            f"candidate; flag cap-some matched {capped:.1f}%, flag never "
            f"{seen.get('flag:never', 0):.0f}.",
            "",
            *table(phases),
            "",
            *targets(phases, names),
            "",
            f"- Redis, warm subjects: {by_name(phases, WARM, names)}.",
            f"- Redis, cold subjects (for comparison): {by_name(phases, COLD, names)}.",
        ]
    )
