"""What online scoring (issue 17) costs the live requests, measured as bench/shadow_bench.py
measures shadow traffic (its ShadowBench and proxy_bench's layout are reused): the fake provider
direct; the proxy with a rollout at weight 0 and no scoring; the same with every live answer
sampled for scoring (`sample: 1`) by an LLM judge, the fake provider in judge mode answering
after the same 100 ms as the LLM, under the default `max_cpu: 0.5` (live traffic first) and
with the check off (`max_cpu: 1`: score whatever it costs the live requests).

    python bench/scoring_bench.py                   # ~6 minutes; also bench/results/scoring.md
    python bench/scoring_bench.py --rounds 1 --scale 0.5

Reported per workload: live p50 / p99 as ratios against direct in the same run and against no
scoring, the share of live answers scored, and the proxy's CPU per scored answer (CPU with
scoring minus the no-scoring round's CPU per live request, over the answers scored), as scored
answers per second per core. A phase lasts until every sampled answer was scored or dropped.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import shadow_bench
from proxy_bench import HOST, RESULTS, Phase, ProxySetup, fmt, git_rev, machine, publish, stat
from shadow_bench import NON_STREAM, ShadowBench, Workload, rollout_config

ROOT = Path(__file__).resolve().parents[1]
JUDGE_MODEL = "judge-bench"
DIRECT, OFF, LIVE_FIRST, ALWAYS = (
    "direct",
    "no scoring",
    "scoring, max_cpu 0.5",
    "scoring, max_cpu 1",
)
SETUPS = (DIRECT, OFF, LIVE_FIRST, ALWAYS)
WORKLOADS = [
    Workload(NON_STREAM, 32, capacity_count=0, paced_seconds=8.0),  # 320 req/s
    Workload(NON_STREAM, 8, capacity_count=0, paced_seconds=8.0),  # 80 req/s
]
SCORING = {"scorers": ["safety"], "sample": 1.0, "timeout": 5.0, "max_in_flight": 512,
           "max_queued": 1024}  # fmt: skip


def provider_settings() -> str:
    doc = {"record_limit": 0, "default": shadow_bench.UPSTREAM,
           "models": {JUDGE_MODEL: {**shadow_bench.UPSTREAM, "judge": True}}}  # fmt: skip
    return json.dumps(doc) + "\n"


def scoring_config(port: int, data: Path, admin: int, max_cpu: float | None) -> dict[str, Any]:
    config = rollout_config(port, data, admin, shadow_bench.HEALTHY_MODEL, shadow=False)
    if max_cpu is None:
        return config
    rubric = str(ROOT / "config/rubrics/safety.md")
    config["scorers"] = {
        "safety": {
            "kind": "judge",
            "provider": "candidate",
            "model": JUDGE_MODEL,
            "rubric": rubric,
        }
    }
    config["rollouts"][0]["scoring"] = {**SCORING, "max_cpu": max_cpu}
    return config


class ScoringBench(ShadowBench):
    provider_settings = provider_settings()

    def __init__(self, args: argparse.Namespace) -> None:
        args.compare_ref, args.stalls, args.stall_stacks, args.skip = None, False, False, None
        super().__init__(args)
        self.names = list(SETUPS)
        self.setups = {}
        for name, max_cpu in ((OFF, None), (LIVE_FIRST, 0.5), (ALWAYS, 1.0)):
            data = self.tmp / f"data-{len(self.setups)}"
            self.setups[name] = ProxySetup(
                name, lambda port, n=name, d=data, c=max_cpu: self._scoring(n, port, d, c)
            )

    def _scoring(self, setup: str, port: int, data: Path, max_cpu: float | None) -> dict:
        self.admin[setup] = shadow_bench.free_port()
        return scoring_config(port, data, self.admin[setup], max_cpu)

    def shadow_counts(self, setup: str) -> Counter[str]:
        """Scoring jobs by outcome ("job:ok") and drops by reason ("dropped:busy")."""
        counts: Counter[str] = Counter()
        if setup == DIRECT:
            return counts
        url = f"http://{HOST}:{self.admin[setup]}/metrics"
        with shadow_bench.urllib.request.urlopen(url, timeout=5) as resp:
            text = resp.read().decode()
        for family in shadow_bench.text_string_to_metric_families(text):
            for s in family.samples:
                if s.name == "llm_rollout_scoring_jobs_total":
                    counts["job:" + s.labels["outcome"]] += int(s.value)
                elif s.name == "llm_rollout_scoring_dropped_total":
                    counts["dropped:" + s.labels["reason"]] += int(s.value)
        return counts

    def drained(self, setup: str, before: Counter[str], live: int) -> Counter[str]:
        if setup in (DIRECT, OFF):
            return self.shadow_counts(setup) - before
        deadline = shadow_bench.time.monotonic() + shadow_bench.DRAIN_SECONDS
        while True:
            counts = self.shadow_counts(setup)
            counts.subtract(before)
            counts = +counts
            if sum(counts.values()) >= live or shadow_bench.time.monotonic() > deadline:
                return counts
            shadow_bench.time.sleep(0.1)


def _median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def scored(p: Phase) -> int:
    return p.result["shadow"].get("job:ok", 0)


def report(phases: dict[tuple[str, str], list[Phase]], info: dict[str, Any]) -> str:
    date = datetime.date.today().isoformat()
    out = [f"# Online scoring: live latency and CPU ({date}, {git_rev(None)})", "", machine(), ""]
    for wl in WORKLOADS:
        runs = {s: phases[(wl.name, s)] for s in SETUPS}
        lat = {s: {q: _median([stat(p, "lat", q) for p in runs[s]]) for q in ("p50", "p99")}
               for s in SETUPS}  # fmt: skip
        out += [f"## {wl.name}, {wl.concurrency} in flight "
                f"({wl.concurrency / wl.template.paced_upstream_s:.0f} live req/s)", "",
                "| path | lat p50 | lat p99 | p50 / direct | p99 / direct | p99 / no scoring "
                "| scored | dropped | proxy CPU ms per scored answer | scored answers/s per core "
                "| other load % |",
                "|---|--:|--:|--:|--:|--:|--:|---|--:|--:|--:|"]  # fmt: skip
        off_cpu = [p.per_req_ms(p.proxy_cpu) for p in runs[OFF]]
        for s in SETUPS:
            live = sum(p.completed for p in runs[s])
            n = sum(scored(p) for p in runs[s])
            drops: Counter[str] = Counter()
            for p in runs[s]:
                drops.update({k[8:]: v for k, v in p.result["shadow"].items()
                              if k.startswith("dropped:")})  # fmt: skip
            per = []
            for p, base in zip(runs[s], off_cpu, strict=False):
                if s in (DIRECT, OFF) or p.proxy_cpu is None or base is None or not scored(p):
                    continue
                per.append((p.proxy_cpu * 1000 - base * p.completed) / scored(p))
            ms = _median(per)
            out.append("| " + " | ".join([
                s, fmt(lat[s]["p50"]), fmt(lat[s]["p99"]),
                fmt(_ratio(lat[s]["p50"], lat[DIRECT]["p50"]), 3),
                fmt(_ratio(lat[s]["p99"], lat[DIRECT]["p99"]), 3),
                fmt(_ratio(lat[s]["p99"], lat[OFF]["p99"]), 3) if s != DIRECT else "",
                f"{n / live:.0%}" if live and s not in (DIRECT, OFF) else "",
                ", ".join(f"{k} {v}" for k, v in sorted(drops.items())),
                fmt(ms, 3), fmt(1000 / ms, 0) if ms and ms > 0 else "",
                fmt(_median([p.other_load for p in runs[s]]), 0),
            ]) + " |")  # fmt: skip
        out.append("")
    out.append(f"{info['rounds']} rounds interleaved, medians; took {info['took']:.0f} s; "
               f"CPU steal {info['steal_s']:.1f} s. Scoring: {SCORING}.")  # fmt: skip
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply phase lengths")
    parser.add_argument("--out", type=Path, default=RESULTS / "scoring.md")
    args = parser.parse_args(argv)
    args.proxy_ref, args.provider_cmd, args.profiler = None, None, "py-spy"
    bench = ScoringBench(args)
    started, steal0 = shadow_bench.time.monotonic(), shadow_bench.steal_ticks()
    try:
        bench.start()
        phases = shadow_bench.run(bench, WORKLOADS, args.rounds)
        info = {
            "took": shadow_bench.time.monotonic() - started,
            "steal_s": (shadow_bench.steal_ticks() - steal0)
            / shadow_bench.os.sysconf("SC_CLK_TCK"),
            "rounds": args.rounds,
        }
        text = report(phases, info)
    finally:
        bench.stop()
    publish(text, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
