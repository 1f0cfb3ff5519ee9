"""The report of bench/shadow_bench.py: one table per workload, the targets of issue 5."""

from __future__ import annotations

import datetime
import statistics
from collections import Counter
from typing import Any

from proxy_bench import (
    Phase,
    Workload,
    fmt,
    git_rev,
    machine,
    problem_lines,
    stat,
    verdict,
    versions,
)

Phases = dict[tuple[str, str], list[Phase]]  # (workload, setup) -> one phase per round

DIRECT, OFF = "direct", "no shadow"
P99_TARGET = 1.05  # live p99 with 100% shadow / without
MIRROR_CPU_TARGET = 1.5  # proxy CPU per mirrored request / per live request without shadow


def median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def cpu_ms(p: Phase) -> float | None:
    return p.per_req_ms(p.proxy_cpu)


def mirrored(p: Phase) -> int:
    """Shadow jobs run to an end in the phase (any outcome); drops are not mirrored."""
    return sum(n for k, n in p.result["shadow"].items() if k.startswith("job:"))


def mirror_cpu_ms(runs: list[Phase], off: list[Phase]) -> list[float]:
    """Per round: (CPU with shadow - the no-shadow round's CPU per request x live requests) /
    mirrored requests, in ms."""
    out = []
    for p, q in zip(runs, off, strict=False):
        base = cpu_ms(q)
        if p.proxy_cpu is None or base is None or not mirrored(p):
            continue
        out.append((p.proxy_cpu * 1000 - base * p.completed) / mirrored(p))
    return out


def counts(runs: list[Phase], prefix: str) -> str:
    total: Counter[str] = Counter()
    for p in runs:
        total.update(
            {k[len(prefix) :]: n for k, n in p.result["shadow"].items() if k.startswith(prefix)}
        )
    return ", ".join(f"{k} {n}" for k, n in sorted(total.items())) or "0"


def lat(runs: list[Phase], key: str, q: str) -> float | None:
    return median([stat(p, key, q) for p in runs])


def table(wl: Workload, phases: Phases, setups: list[str]) -> list[str]:
    stream = wl.template.stream
    out = [
        "| path | live req/s (late sends) | lat p50 | lat p99 | p99 / direct | p99 / no shadow "
        "| p99 each round"
        + (" | TTFT p50 | TTFT p99 | TTFT p99 / no shadow" if stream else "")
        + " | proxy CPU ms per live req (each round) | core 0 busy % | mirrored / live "
        "| proxy CPU ms per mirrored req (each round) | / live req without shadow "
        "| shadow jobs | dropped | live errors | other load % |",
        "|---|--:|--:|--:|--:|--:|--:|"
        + ("--:|--:|--:|" if stream else "")
        + "--:|--:|--:|--:|--:|---|---|--:|--:|",
    ]
    direct, off = phases[(wl.name, DIRECT)], phases[(wl.name, OFF)]
    primary = median([cpu_ms(p) for p in off])
    for setup in setups:
        runs = phases[(wl.name, setup)]
        p99 = lat(runs, "lat", "p99")
        cpu = median([cpu_ms(p) for p in runs])
        each = ", ".join(fmt(cpu_ms(p), 3) for p in runs)
        shadowing = setup not in (DIRECT, OFF)
        per_mirror = mirror_cpu_ms(runs, off) if shadowing else []
        m = median(per_mirror)
        live = sum(p.completed for p in runs)
        errors = Counter()
        for p in runs:
            errors.update(p.errors())
        late = sum(p.result["late_2ms"] for p in runs)
        row = [
            setup,
            f"{median([p.result['rps'] for p in runs]):.0f} ({late})",
            fmt(lat(runs, "lat", "p50")),
            fmt(p99),
            fmt(ratio(p99, lat(direct, "lat", "p99")), 3),
            fmt(ratio(p99, lat(off, "lat", "p99")), 3) if setup != DIRECT else "",
            ", ".join(fmt(stat(p, "lat", "p99"), 1) for p in runs),
        ]
        if stream:
            t99 = lat(runs, "ttft", "p99")
            row += [fmt(lat(runs, "ttft", "p50")), fmt(t99)]
            row.append(fmt(ratio(t99, lat(off, "ttft", "p99")), 3) if setup != DIRECT else "")
        row += [
            "-" if cpu is None else f"{cpu:.3f} ({each})",
            fmt(median([p.busy(p.proxy_cpu) for p in runs]), 0),
            f"{sum(mirrored(p) for p in runs)} / {live}" if shadowing else "",
            f"{m:.3f} ({', '.join(f'{v:.3f}' for v in per_mirror)})" if m is not None else "",
            fmt(ratio(m, primary)) if m is not None else "",
            counts(runs, "job:") if shadowing else "",
            counts(runs, "dropped:") if shadowing else "",
            ", ".join(f"{k} {n}" for k, n in errors.items()) or "0",
            " / ".join(f"{p.other_load:.0f}" for p in runs),
        ]
        out.append("| " + " | ".join(row) + " |")
    return out


def targets(workloads: list[Workload], phases: Phases, setups: list[str]) -> list[str]:
    out = ["| target (issue 5) | workload | path | measured | verdict |", "|---|---|---|--:|---|"]
    for wl in workloads:
        off = phases[(wl.name, OFF)]
        primary = median([cpu_ms(p) for p in off])
        for setup in setups[2:]:
            runs = phases[(wl.name, setup)]
            r = ratio(lat(runs, "lat", "p99"), lat(off, "lat", "p99"))
            ok = None if r is None else r <= P99_TARGET
            out.append(
                f"| live p99 with 100% shadow ≤ {P99_TARGET:.2f} x no-shadow p99 | {wl.name} "
                f"| {setup} | {fmt(r, 3)} x | {verdict(ok)} |"
            )
            m = ratio(median(mirror_cpu_ms(runs, off)), primary)
            ok = None if m is None else m <= MIRROR_CPU_TARGET
            out.append(
                f"| proxy CPU per mirrored request ≤ {MIRROR_CPU_TARGET} x per live request "
                f"| {wl.name} | {setup} | {fmt(m)} x | {verdict(ok)} |"
            )
    return out


def render(phases: Phases, workloads: list[Workload], info: dict[str, Any]) -> str:
    setups = info["setups"]
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    up, slow = info["upstream"], info["slowdown"]
    lines = [
        f"# Shadow traffic benchmark — {now}",
        "",
        f"Machine: {machine()}; {versions()}. Code: {git_rev(None)}. Run took "
        f"{info['took']:.0f} s; CPU time stolen by the hypervisor meanwhile: "
        f"{info['steal_s']:.2f} s.",
        "One proxy loaded at a time, pinned to core 0; fake provider, load generator and driver "
        "on core 1. Paced phases only (open loop, `concurrency` in flight on average). Upstream "
        f"(per model): {up['latency'] * 1000:.0f} ms per non-streaming answer, streams "
        f"{up['ttft'] * 1000:.0f} ms TTFT then chunks {up['inter_chunk'] * 1000:.0f} ms apart; the "
        f"slow candidate {slow}x all of these. Shadow: {info['shadow']}. Rollout at weight 0, "
        "embedded store. "
        f"{info['rounds']} rounds interleaved; medians of the rounds (latencies in ms).",
        "",
    ]
    for wl in workloads:
        lines += [
            f"## {wl.name} (paced, {wl.concurrency / wl.template.paced_upstream_s:.0f} live req/s)",
            "",
        ]
        lines += [*table(wl, phases, setups), ""]
    lines += ["## Targets", "", *targets(workloads, phases, setups), ""]
    lines += [
        "live req/s: achieved (offered in the heading); late sends: sent more than 2 ms after "
        "their time, mostly for want of a free connection (1.5 x concurrency): more than that "
        "many requests were held up, the proxy's core was saturated. core 0 busy %: proxy CPU "
        "over the load's wall time (the CPU reading also spans the wait for the phase's shadow "
        "jobs to end). mirrored: shadow jobs run to an end (ok, timeout, "
        "error); CPU per mirrored request: (CPU with shadow - the same round's no-shadow CPU per "
        "live request x live requests) / mirrored, per round.",
        "",
    ]
    return "\n".join(lines + problem_lines(info["problems"]))
