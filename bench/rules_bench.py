"""What the number of configured rules costs a request that only one rollout and one flag apply to.

    python bench/rules_bench.py                     # N = 1, 10, 100, 1000; ~5 minutes on 2 cores
    python bench/rules_bench.py --rules 1,1000 --rounds 5
    python bench/rules_bench.py --proxy-ref HEAD    # the proxy code of a commit (before/after)

For each N, one proxy with N rollouts and 2N flags, of which one rollout and one flag apply to
the benchmark's request (both last in config order: the worst place for a linear scan). The
others are what a busy platform team configures: rollouts on other models (exact names and
globs, on the route or on every route) and flags on headers, header values, body fields,
subjects and models the request does not carry (kill switches, tier rules, customer overrides).

Per N, in a child process (bench/rules_child.py): the config's load time (parse + validate),
the proxy's build (compile rollouts, flags and their indexes, the pipeline), a hot reload end to
end, and the CPU per request of the stages whose work depends on the rules (identify, flags);
then, end to end, the proxy's CPU per request at capacity (closed loop, c=32, no upstream
delay) for non-streaming requests and 10-chunk streams, proxies interleaved over --rounds
rounds, medians. Layout, pinning, load generator and CPU accounting as in bench/proxy_bench.py
(README there).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from proxy_bench import (
    NON_STREAM,
    RESULTS,
    STREAM,
    WARMUP,
    Bench,
    Phase,
    ProxySetup,
    Template,
    machine,
    plain_proxy_config,
    publish,
)

TEAM = {"x-team": "team-bench"}  # the request's own header: one flag keys on this value
TEMPLATES = [
    Template(t.name, t.stream, {**t.capacity_knobs, **TEAM}, t.paced_knobs, t.paced_upstream_s)
    for t in (NON_STREAM, STREAM)
]
TIMES = ("load", "build", "reload")
COUNT = {False: 6000, True: 3000}  # requests per capacity phase
CONCURRENCY = 32


def other_rollout(i: int) -> dict[str, Any]:
    """A rollout on a model the request does not ask for: half exact names, half globs."""
    models = [f"other-model-{i}"] if i % 2 else [f"other-{i}-*", f"legacy-{i}?"]
    rollout: dict[str, Any] = {"name": f"r{i}", "models": models, "weight": 0.5}
    if i % 3 == 0:
        rollout["routes"] = ["/v1"]
    rollout["candidate"] = {"model": f"other-model-{i}-next"}
    return rollout


def other_flag(i: int) -> dict[str, Any]:
    """A flag whose condition the request does not meet."""
    deny = {"deny": {"message": f"rule {i}"}}
    when: dict[str, Any] = [
        {"headers": {"x-team": f"team-{i}"}},  # a value of a header the request carries
        {"headers": {f"x-kill-feature-{i}": "1"}},  # a header it does not carry
        {"body": {"metadata.customer": f"customer-{i}"}, "percent": 50},
        {"subjects": [f"user-{i}", f"user-{i}-b"]},
        {"models": [f"other-{i}-*"], "headers": {"x-tier": "free"}},
        {"headers": {"x-tier": ["free", f"tier-{i}"]}, "max_tokens_over": 1000},
    ][i % 6]
    return {"name": f"f{i}", "when": when, "then": deny}


def rules_config(provider_port: int, n: int, data_dir: str, weight: float = 0.5) -> dict[str, Any]:
    applies = {
        "name": "applies",
        "routes": ["/v1"],
        "models": ["gpt-4o-mini"],
        "subject": ["body:user"],
        "weight": weight,
        "candidate": {"params": {"temperature": 0.0}},
    }
    flag = {"name": "applies", "when": {"headers": TEAM}, "then": {"cap": {"max_tokens": 256}}}
    return {
        **plain_proxy_config(provider_port),
        "store": {"data_dir": data_dir},
        "rollouts": [*(other_rollout(i) for i in range(n - 1)), applies],
        "flags": [*(other_flag(i) for i in range(2 * n - 1)), flag],
    }


def child_figures(n: int, src: Path) -> dict[str, Any]:
    """bench/rules_child.py N: load, build and reload times and the rules' CPU per request, in a
    child process running the proxy code in `src`."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    argv = [sys.executable, str(Path(__file__).with_name("rules_child.py")), str(n)]
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if out.returncode:
        raise SystemExit(f"in-process figures for N = {n} failed:\n{out.stderr}")
    return json.loads(out.stdout.splitlines()[-1])


def measure(bench: Bench, setups: list[ProxySetup], rounds: int) -> dict[tuple[str, str], list]:
    """Capacity phases, setups interleaved (order reversed every other round)."""
    phases: dict[tuple[str, str], list[Phase]] = {}
    run = {"mode": "closed", "concurrency": CONCURRENCY}
    for r in range(rounds):
        order = setups if r % 2 == 0 else setups[::-1]
        for setup in order:
            proc, port = bench.proxy(setup)
            for t in TEMPLATES:
                print(f"… round {r + 1}: {setup.name} / {t.name}", file=sys.stderr, flush=True)
                bench._run(port, t, t.capacity_knobs, **run, count=WARMUP + 2 * CONCURRENCY)
                phase = bench._quiet(
                    proc,
                    lambda p=port, t=t: bench._run(
                        p, t, t.capacity_knobs, **run, count=COUNT[t.stream]
                    ),
                )
                phases.setdefault((setup.name, t.name), []).append(phase)
    return phases


def render(ns: list[int], loads: dict[int, dict[str, Any]], phases: dict, args: Any) -> str:
    head = [f"{t.name} CPU ms/req (rounds)" for t in TEMPLATES]
    lines = [
        f"Machine: {machine()}. Proxy code: {args.proxy_ref or 'working tree'}. "
        f"Load, build, reload: wall ms (process CPU ms). Rules µs/req: identify + flags "
        f"in-process, best of 7. End to end: capacity phase, c={CONCURRENCY}, {args.rounds} "
        "rounds interleaved, medians; `vs 1`: against N = 1.",
        "",
        f"| rules (rollouts / flags) | load | build | reload | rules µs/req | {' | '.join(head)} "
        "| vs 1 | max req/s | lat p99 ms | errors | other load % |",
        "|---|--:|--:|--:|--:|" + "--:|" * len(head) + "--:|--:|--:|---|--:|",
    ]
    base: dict[str, float] = {}
    for n in ns:
        cells, vs, rps, p99, errors, other = [], [], [], [], 0, []
        for t in TEMPLATES:
            runs = phases[(f"rules-{n}", t.name)]
            cpu = [p.per_req_ms(p.proxy_cpu) for p in runs]
            med = statistics.median(cpu)
            base.setdefault(t.name, med)
            cells.append(f"{med:.3f} ({', '.join(f'{c:.3f}' for c in cpu)})")
            vs.append(f"{(med / base[t.name] - 1) * 100:+.0f}%")
            rps.append(f"{statistics.median(p.completed / p.result['wall'] for p in runs):.0f}")
            p99.append(f"{statistics.median(p.result['lat']['p99'] for p in runs):.1f}")
            errors += sum(sum(p.errors().values()) for p in runs)
            other.append(f"{max(p.other_load for p in runs):.0f}")
        ld = loads[n]
        times = " | ".join(f"{ld[k][0] * 1e3:.0f} ({ld[k][1] * 1e3:.0f})" for k in TIMES)
        lines.append(
            f"| {n} / {2 * n} | {times} | {ld['rules_us']:.1f} | {' | '.join(cells)} "
            f"| {' / '.join(vs)} "
            f"| {' / '.join(rps)} | {' / '.join(p99)} | {errors} | {' / '.join(other)} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", default="1,10,100,1000", help="N values, comma-separated")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--proxy-ref", help="benchmark the proxy code of this git commit")
    parser.add_argument("--out", type=Path, default=RESULTS / "rules.md")
    args = parser.parse_args()
    ns = [int(n) for n in args.rules.split(",")]
    bench_args = argparse.Namespace(proxy_ref=args.proxy_ref, provider_cmd=None, scale=1.0)
    bench = Bench(bench_args)
    loads: dict[int, dict[str, Any]] = {}
    for n in ns:
        print(f"… in-process figures, N = {n}", file=sys.stderr, flush=True)
        loads[n] = child_figures(n, bench.proxy_src)
    try:
        bench.start()
        setups = [
            ProxySetup(
                f"rules-{n}", lambda port, n=n: rules_config(port, n, str(bench.tmp / f"d{n}"))
            )
            for n in ns
        ]
        phases = measure(bench, setups, args.rounds)
    finally:
        bench.stop()
    publish(render(ns, loads, phases, args), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
