"""What mirroring live requests to a candidate (shadow traffic, issue 5) costs the live requests,
in one run: the fake provider direct; the proxy with a rollout at weight 0 and no shadow; the same
with shadow at 100% (share 1, per request, no noise calls) to a healthy candidate; and to a
candidate 10x slower.

    python bench/shadow_bench.py            # ~10 minutes; also bench/results/shadow.md
    python bench/shadow_bench.py --profile  # py-spy: where the proxy's CPU goes, shadow to
                                            # the slow candidate, first workload

Layout, load generator, paced phase and CPU accounting as in proxy_bench.py (its Bench is
reused): one proxy process at a time loaded on core 0; the fake provider, the load generator and
this driver on core 1. Only paced phases (requests evenly spaced so that `concurrency` are in
flight on average): the latency of live requests at a given load, not a capacity.

The upstream delay is a property of the fake provider's models (proxy/fake_provider/settings.py),
never an x-fake-* header: shadow requests carry the client's headers, so a header would slow the
candidate exactly like the baseline. Every model answers after 100 ms (streams: 50 ms TTFT, then
chunks 10 ms apart) except the slow candidate's, which takes ten times as long.

A phase lasts until every mirrored request has been run or dropped (the shadow jobs and drops
counted on the proxy's /metrics reach the live requests completed), so the shadow work of the
live requests measured is inside the CPU reading. Setups are interleaved over `--rounds` rounds
(order reversed every other round); medians reported.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from proxy_bench import (
    CLIENT_CORE,
    HOST,
    PACED_POOL,
    RESULTS,
    Bench,
    Phase,
    Proc,
    ProxySetup,
    Template,
    Workload,
    extract_ref,
    free_port,
    log_problems,
    pinned,
    plain_proxy_config,
    print_pyspy,
    publish,
    steal_ticks,
)
from shadow_report import render
from stall_proxy import report as stall_report

BASELINE_MODEL = "gpt-4o-mini"  # what the client asks for
HEALTHY_MODEL = "gpt-4o-2024-08-06"  # candidates: both priced as gpt-4o
SLOW_MODEL = "gpt-4o-2024-05-13"
SLOWDOWN = 10
UPSTREAM = {"latency": 0.1, "ttft": 0.05, "inter_chunk": 0.01}  # seconds, every other model
KNOBS = {"x-fake-output-tokens": "10"}  # the same for both sides of a pair

NON_STREAM = Template("non-stream", False, KNOBS, KNOBS, paced_upstream_s=UPSTREAM["latency"])
STREAM = Template(
    "stream 10 chunks",
    True,
    KNOBS,
    KNOBS,
    paced_upstream_s=UPSTREAM["ttft"] + 9 * UPSTREAM["inter_chunk"],
)
WORKLOADS = [
    Workload(NON_STREAM, 128, capacity_count=0, paced_seconds=8.0),
    Workload(NON_STREAM, 32, capacity_count=0, paced_seconds=8.0),
    Workload(STREAM, 32, capacity_count=0, paced_seconds=8.0),
]
# Enough for the slow candidate at the heaviest load: 1280 live req/s x 1 s each = ~1280 shadow
# calls in flight; the queue absorbs bursts. The candidate has a provider entry of its own (same
# fake), so its calls never wait for the live provider's connection pool (1000 by default).
SHADOW = {
    "share": 1.0,
    "per": "request",
    "noise_share": 0.0,
    "timeout": 5.0,
    "max_in_flight": 2048,
    "max_queued": 1024,
}
CANDIDATE_CONNECTIONS = 4096
DRAIN_SECONDS = 8.0  # longest wait for the shadow jobs of a phase: timeout + a margin
DIRECT, OFF, HEALTHY, SLOW = (
    "direct",
    "no shadow",
    "shadow, healthy candidate",
    "shadow, 10x slower candidate",
)
SETUPS = (DIRECT, OFF, HEALTHY, SLOW)


def provider_settings() -> str:
    slow = {knob: seconds * SLOWDOWN for knob, seconds in UPSTREAM.items()}
    doc = {"record_limit": 0, "default": UPSTREAM, "models": {SLOW_MODEL: slow}}
    return json.dumps(doc) + "\n"  # JSON is YAML


def rollout_config(
    port: int, data_dir: Path, admin: int, model: str, shadow: bool
) -> dict[str, Any]:
    """A rollout at weight 0 (every live request on the baseline); with `shadow`, mirroring all
    of them to `model` on the candidate's own provider entry."""
    config = plain_proxy_config(port)
    config["providers"]["candidate"] = {
        "kind": "openai",
        "base_url": f"http://{HOST}:{port}/v1",
        "max_connections": CANDIDATE_CONNECTIONS,
    }
    rollout: dict[str, Any] = {
        "name": "bench-shadow",
        "weight": 0.0,
        "candidate": {"provider": "candidate", "model": model},
    }
    if shadow:
        rollout["shadow"] = SHADOW
    return config | {
        "admin": {"host": HOST, "port": admin},
        "store": {"data_dir": str(data_dir)},
        "rollouts": [rollout],
    }


class ShadowBench(Bench):
    provider_settings = provider_settings()

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args)
        self.admin: dict[str, int] = {}  # setup -> admin port (/metrics)
        self.setups: dict[str, ProxySetup] = {}
        self.names = [s for s in SETUPS if not args.skip or args.skip not in s]
        variants = [(OFF, HEALTHY_MODEL, False), (HEALTHY, HEALTHY_MODEL, True)]
        variants.append((SLOW, SLOW_MODEL, True))
        self.ref_setup: str | None = None
        if args.compare_ref:  # the healthy shadow again, run by the proxy code of a commit
            self.ref_setup = f"{HEALTHY} @{args.compare_ref}"
            self.ref_src = extract_ref(args.compare_ref, self.tmp / "ref-src")
            variants.append((self.ref_setup, HEALTHY_MODEL, True))
            self.names.insert(self.names.index(HEALTHY) + 1, self.ref_setup)
        for name, model, shadow in variants:
            data = self.tmp / f"data-{len(self.setups)}"
            launcher: tuple[str, ...] = ()
            if args.stalls or args.stall_stacks:
                launcher = ("stall_proxy.py",)
            if args.stall_stacks:
                launcher += ("--stacks", str(stacks_path(name)))
            self.setups[name] = ProxySetup(
                name,
                lambda port, n=name, d=data, m=model, s=shadow: self._config(n, port, d, m, s),
                launcher=launcher,
            )

    def _config(self, setup: str, port: int, data: Path, model: str, shadow: bool) -> dict:
        # The admin port is picked when the proxy starts: one picked earlier could be handed
        # out again before the proxy binds it.
        self.admin[setup] = free_port()
        return rollout_config(port, data, self.admin[setup], model, shadow)

    def target(self, setup: str) -> tuple[Proc | None, int]:
        if setup == DIRECT:
            return None, self.provider_port
        if setup not in self.proxies and setup == self.ref_setup:
            self.proxy_src, src = self.ref_src, self.proxy_src  # for this proxy only
            try:
                return self.proxy(self.setups[setup])
            finally:
                self.proxy_src = src
        return self.proxy(self.setups[setup])

    def shadow_counts(self, setup: str) -> Counter[str]:
        """Shadow jobs by outcome ("job:ok") and drops by reason ("dropped:queue_full")."""
        counts: Counter[str] = Counter()
        if setup == DIRECT:
            return counts
        url = f"http://{HOST}:{self.admin[setup]}/metrics"
        with urllib.request.urlopen(url, timeout=5) as resp:
            text = resp.read().decode()
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                if s.name == "llm_rollout_shadow_jobs_total":
                    counts["job:" + s.labels["outcome"]] += int(s.value)
                elif s.name == "llm_rollout_shadow_dropped_total":
                    counts["dropped:" + s.labels["reason"]] += int(s.value)
        return counts

    def paced(self, setup: str, wl: Workload, warm_up: bool = False) -> dict[str, Any]:
        """One paced phase, then a wait until its shadow jobs have all run or been dropped."""
        _, port = self.target(setup)
        t, c = wl.template, wl.concurrency
        rate = c / t.paced_upstream_s
        seconds = 1.0 if warm_up else wl.paced_seconds * self.args.scale
        before = self.shadow_counts(setup)
        result = self._run(
            port,
            t,
            t.paced_knobs,
            mode="paced",
            concurrency=c,
            pool=int(c * PACED_POOL) + 2,
            count=max(c * 4, int(rate * seconds)),
            rate=rate,
        )
        result["rate"] = rate
        result["shadow"] = self.drained(setup, before, result["completed"])
        return result

    def drained(self, setup: str, before: Counter[str], live: int) -> Counter[str]:
        """The phase's shadow counts once every live request's shadow job ended or was dropped."""
        if setup in (DIRECT, OFF):
            return self.shadow_counts(setup) - before  # the same scrape cost as the others
        deadline = time.monotonic() + DRAIN_SECONDS
        while True:
            counts = self.shadow_counts(setup)
            counts.subtract(before)
            counts = +counts
            if sum(counts.values()) >= live or time.monotonic() > deadline:
                return counts
            time.sleep(0.1)

    def measure(self, setup: str, wl: Workload) -> Phase:
        proxy, _ = self.target(setup)
        return self._quiet(proxy, lambda: self.paced(setup, wl))


def run(bench: ShadowBench, workloads: list[Workload], rounds: int) -> dict:
    phases: dict[tuple[str, str], list[Phase]] = {
        (wl.name, s): [] for wl in workloads for s in bench.names
    }
    for wl in workloads:  # connections on both sides of each proxy, code paths, shadow workers
        for setup in bench.names:
            print(f"… warm-up {wl.name} / {setup}", file=sys.stderr, flush=True)
            bench.paced(setup, wl, warm_up=True)
    for rnd in range(rounds):
        order = bench.names if rnd % 2 == 0 else bench.names[::-1]
        for wl in workloads:
            for setup in order:
                print(f"… round {rnd + 1}/{rounds} {wl.name} / {setup}", file=sys.stderr)
                phases[(wl.name, setup)].append(bench.measure(setup, wl))
    return phases


def profile(bench: ShadowBench, wl: Workload, setup: str) -> None:
    """py-spy on the proxy during one paced phase (with its shadow drain)."""
    proxy, _ = bench.target(setup)
    assert proxy is not None
    bench.paced(setup, wl, warm_up=True)
    out = RESULTS / "shadow.pyspy.txt"
    out.unlink(missing_ok=True)
    argv = ["py-spy", "record", "--pid", str(proxy.pid), "--rate", "1000", "--format", "raw"]
    argv += ["--function", "--output", str(out), "--nonblocking"]
    with open(RESULTS / "py-spy.log", "wb") as log:
        spy = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                               preexec_fn=pinned(CLIENT_CORE))  # fmt: skip
    time.sleep(1.0)  # py-spy attaches
    phase = bench._measured(proxy, lambda: bench.paced(setup, wl))
    spy.send_signal(2)  # SIGINT: write the profile
    spy.wait(30)
    live = phase.completed
    mirrored = sum(v for k, v in phase.result["shadow"].items() if k.startswith("job:"))
    print(f"\nProfile of the proxy, {wl.name} / {setup}: {live} live requests, {mirrored} mirrored")
    print(f"Proxy CPU {phase.per_req_ms(phase.proxy_cpu):.3f} ms per live request.")
    print_pyspy(out, live)
    print(f"\nraw profile: {out}")


def stacks_path(setup: str) -> Path:
    return RESULTS / f"stalls-{setup.replace(' ', '-').replace(',', '')}.jsonl"


def stall_line(proc: Proc) -> str:
    lines = [ln for ln in proc.tail(50).splitlines() if ln.startswith("stalls:")]
    return lines[-1] if lines else "no summary in the log"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply phase lengths")
    parser.add_argument("--only", help="run only workloads whose name contains this")
    parser.add_argument("--profile", action="store_true", help="py-spy one phase instead")
    parser.add_argument("--profile-setup", default=SLOW, choices=SETUPS[1:])
    parser.add_argument("--skip", help="leave out the setups whose name contains this")
    parser.add_argument(
        "--stalls",
        action="store_true",
        help="run the proxies under bench/stall_proxy.py: GC pauses and event-loop lag, per setup",
    )
    parser.add_argument(
        "--stall-stacks",
        action="store_true",
        help="--stalls, and sample the stack of each late wake-up (bench/results/stalls-*.jsonl)",
    )
    parser.add_argument(
        "--compare-ref",
        help="also run the healthy shadow with the proxy code of this git commit (before/after)",
    )
    parser.add_argument(
        "--max-cpu",
        type=float,
        help="shadow.max_cpu of the shadow setups (default: the config's, 0.5; 1: no check)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "shadow.md")
    args = parser.parse_args(argv)
    if args.max_cpu is not None:
        SHADOW["max_cpu"] = args.max_cpu  # printed with the report's shadow settings
    # What proxy_bench's Bench reads.
    args.proxy_ref, args.provider_cmd, args.profiler = None, None, "py-spy"
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if len(os.sched_getaffinity(0)) < 2:
        raise SystemExit("needs at least 2 cores (proxy on core 0, everything else on core 1)")
    workloads = [w for w in WORKLOADS if not args.only or args.only in w.name]
    bench = ShadowBench(args)
    started, steal0 = time.monotonic(), steal_ticks()
    try:
        bench.start()
        if args.profile:
            profile(bench, workloads[0], args.profile_setup)
            return 0
        phases = run(bench, workloads, args.rounds)
        info = {
            "took": time.monotonic() - started,
            "steal_s": (steal_ticks() - steal0) / os.sysconf("SC_CLK_TCK"),
            "problems": {p.name: log_problems(p) for p, _ in bench.proxies.values()},
            "shadow": SHADOW,
            "upstream": UPSTREAM,
            "slowdown": SLOWDOWN,
            "rounds": args.rounds,
            "setups": bench.names,
        }
        report = render(phases, workloads, info)
    finally:
        bench.stop()
    if args.stalls or args.stall_stacks:  # written by each proxy as it exits
        report += "\n\n## Event-loop stalls over the whole run (bench/stall_proxy.py)\n\n"
        report += "\n".join(f"- {name}: {stall_line(p)}" for name, (p, _) in bench.proxies.items())
    if args.stall_stacks:
        for name in bench.proxies:
            report += f"\n\n### {name}: late wake-ups (stall_proxy.py --report)\n\n```\n"
            report += stall_report(stacks_path(name)) + "\n```"
    publish(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
