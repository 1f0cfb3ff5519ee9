"""What observing responses costs the proxy: direct vs proxy (observe off) vs proxy (observe on),
in one run, for non-streaming requests and 10-chunk streams.

    python bench/observe_cost.py                  # ~1.5 minutes on 2 cores
    python bench/observe_cost.py --rounds 7 --concurrency 128

Both proxies run side by side on core 0 through bench/pipeline_proxy.py (`--observe off` drops
the Observe and Conclude stages), each idle while the other is measured. The capacity phase
(closed loop, no upstream delay) is repeated `--rounds` times, alternating the order of the
paths each round so that drift on the machine hits every path alike; the cost of observation is
the median of the per-round differences on - off. A paced phase (realistic upstream delay, as in
proxy_bench.py) follows once per path. Layout, CPU accounting and noise handling are those of
proxy_bench.py (bench/README.md). Report to stdout and bench/results/observe_cost.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time
from pathlib import Path

from proxy_bench import (
    NON_STREAM,
    RESULTS,
    STREAM,
    WARMUP,
    Bench,
    Phase,
    ProxySetup,
    Template,
    fmt,
    git_rev,
    machine,
    plain_proxy_config,
    publish,
    stat,
    versions,
)

OFF = ProxySetup("observe off", plain_proxy_config, ("pipeline_proxy.py", "--observe", "off"))
ON = ProxySetup("observe on", plain_proxy_config, ("pipeline_proxy.py", "--observe", "on"))
PATHS = ("direct", OFF.name, ON.name)
CAPACITY_COUNT = {False: 6000, True: 3000}  # requests per capacity round
TARGET_MS = {False: 0.1, True: 0.2}  # issue 3: proxy CPU that observing may add per request

Results = dict[str, dict[str, list[Phase]]]  # path -> {"capacity": [...], "paced": [...]}


def measure(bench: Bench, t: Template, args: argparse.Namespace) -> Results:
    c = args.concurrency
    ports = {"direct": (None, bench.provider_port)}
    ports |= {s.name: bench.proxy(s) for s in (OFF, ON)}
    out: Results = {p: {"capacity": [], "paced": []} for p in PATHS}
    for _, port in ports.values():
        bench._run(port, t, t.capacity_knobs, mode="closed", concurrency=c, count=WARMUP + 2 * c)
    count = max(c * 4, int(CAPACITY_COUNT[t.stream] * args.scale))
    for r in range(args.rounds):
        for path in PATHS if r % 2 == 0 else PATHS[::-1]:
            proc, port = ports[path]
            spec = {"mode": "closed", "concurrency": c, "count": count}
            phase = bench._quiet(
                proc, lambda p=port, s=spec: bench._run(p, t, t.capacity_knobs, **s)
            )
            out[path]["capacity"].append(phase)
    rate = c / t.paced_upstream_s
    spec = {"mode": "paced", "concurrency": c, "pool": int(c * 1.5) + 2, "rate": rate}
    spec["count"] = max(c * 4, int(rate * args.paced_seconds * args.scale))
    for r in range(args.paced_rounds):
        for path in PATHS if r % 2 == 0 else PATHS[::-1]:
            if path == "direct" and r > 0:
                continue  # direct is only the latency reference: once is enough
            proc, port = ports[path]
            phase = bench._quiet(proc, lambda p=port: bench._run(p, t, t.paced_knobs, **spec))
            out[path]["paced"].append(phase)
    return out


def cpu_ms(phase: Phase) -> float | None:
    return phase.per_req_ms(phase.proxy_cpu)


def cpus(phases: list[Phase]) -> list[float]:
    return [v for v in map(cpu_ms, phases) if v is not None]


def median_stat(phases: list[Phase], key: str, q: str) -> float | None:
    values = [v for v in (stat(ph, key, q) for ph in phases) if v is not None]
    return statistics.median(values) if values else None


def spread(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):.3f} ({min(values):.3f}..{max(values):.3f})"


def table(t: Template, res: Results, args: argparse.Namespace) -> list[str]:
    lines = [
        f"### {t.name} c={args.concurrency}",
        "",
        "| path | max req/s (median) "
        f"| proxy CPU ms/req, capacity: median (min..max of {args.rounds} rounds) "
        f"| proxy CPU ms/req, paced: median (min..max of {args.paced_rounds} rounds) "
        "| paced lat p50 / p99 ms | paced TTFT p50 / p99 ms | errors | other load % (worst) |",
        "|---|--:|--:|--:|--:|--:|---|--:|",
    ]
    for path in PATHS:
        cap, paced = res[path]["capacity"], res[path]["paced"]
        errors: dict[str, int] = {}
        for ph in [*cap, *paced]:
            for k, v in ph.errors().items():
                errors[k] = errors.get(k, 0) + v
        lines.append(
            f"| {path} | {statistics.median(ph.result['rps'] for ph in cap):.0f} "
            f"| {spread(cpus(cap))} | {spread(cpus(paced))} "
            f"| {fmt(median_stat(paced, 'lat', 'p50'))} / {fmt(median_stat(paced, 'lat', 'p99'))} "
            f"| {fmt(median_stat(paced, 'ttft', 'p50'))} "
            f"/ {fmt(median_stat(paced, 'ttft', 'p99'))} "
            f"| {', '.join(f'{k}: {v}' for k, v in errors.items()) or '0'} "
            f"| {max(ph.other_load for ph in [*cap, *paced]):.0f} |"
        )
    diffs = f"**{spread(cost(res, 'capacity'))}** | **{spread(cost(res, 'paced'))}**"
    lines.append(f"| **on - off** (paired by round) | | {diffs} | | | | |")
    return lines


def cost(res: Results, phase: str) -> list[float]:
    """Per-round differences on - off of the proxy's CPU per request (ms), rounds paired."""
    pairs = zip(res[ON.name][phase], res[OFF.name][phase], strict=True)
    both = ((cpu_ms(on), cpu_ms(off)) for on, off in pairs)
    return [a - b for a, b in both if a is not None and b is not None]


def targets(results: list[tuple[Template, Results]]) -> list[str]:
    lines = [
        "| target (issue 3) | capacity: median of on - off | verdict "
        "| paced: median of on - off | verdict |",
        "|---|--:|---|--:|---|",
    ]
    for t, res in results:
        limit = TARGET_MS[t.stream]
        cap, paced = (median(cost(res, phase)) for phase in ("capacity", "paced"))
        lines.append(
            f"| observation adds ≤ {limit} ms CPU per {t.name} request | {fmt(cap, 3)} ms "
            f"| {verdict(cap, limit)} | {fmt(paced, 3)} ms | {verdict(paced, limit)} |"
        )
    return lines


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def verdict(value: float | None, limit: float) -> str:
    return "n/a" if value is None else ("PASS" if value <= limit else "MISS")


def render(results: list[tuple[Template, Results]], args: argparse.Namespace, took: float) -> str:
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    lines = [
        f"# Observation off vs on — {now}",
        "",
        f"Machine: {machine()}; {versions()}. Code: {git_rev(args.proxy_ref)}. "
        f"Run took {took:.0f} s. Concurrency {args.concurrency}; {args.rounds} capacity rounds "
        f"per path; {args.paced_rounds} paced rounds of {args.paced_seconds:g} s per proxy "
        "(direct: one).",
        "",
    ]
    for t, res in results:
        lines += [*table(t, res, args), ""]
    return "\n".join([*lines, "### Targets", "", *targets(results), ""])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="capacity rounds per path")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--paced-rounds", type=int, default=3, help="paced rounds per proxy")
    parser.add_argument("--paced-seconds", type=float, default=3.0)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply request counts")
    parser.add_argument("--proxy-ref", help="the proxy code of this git commit")
    parser.add_argument("--out", type=Path, default=RESULTS / "observe_cost.md")
    args = parser.parse_args(argv)
    args.provider_cmd, args.profiler = None, "cprofile"  # what Bench expects besides
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if len(os.sched_getaffinity(0)) < 2:
        raise SystemExit("needs at least 2 cores (proxies on core 0, everything else on core 1)")
    bench, started = Bench(args), time.monotonic()
    try:
        bench.start()
        results = []
        for t in (NON_STREAM, STREAM):
            print(f"… {t.name} c={args.concurrency}", file=sys.stderr, flush=True)
            results.append((t, measure(bench, t, args)))
        report = render(results, args, time.monotonic() - started)
    finally:
        bench.stop()
    publish(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
