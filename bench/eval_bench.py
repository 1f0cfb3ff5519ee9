"""How fast `rollout eval` goes: cases per second through both arms at a given concurrency,
against the project's fake provider (its own process, echo mode), beside a direct client that
sends the same requests straight to the provider at the same concurrency (no harness, no
checks: the floor), and a second, cached run.

    python bench/eval_bench.py [--cases 1000] [--concurrency 32] [--rounds 3]

Loopback only; the fake provider answers at once, so this measures the tool's own cost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.servers import free_port  # noqa: E402

ROLLOUT = [sys.executable, "-m", "rollout.cli.main", "--log-level", "warning"]


def write_inputs(directory: Path, cases: int, port: int) -> tuple[Path, Path, list[bytes]]:
    config = directory / "config.yaml"
    config.write_text(
        f"""
providers: {{fake: {{kind: openai, base_url: "http://127.0.0.1:{port}/v1"}}}}
routes: [{{prefix: /v1, provider: fake}}]
rollouts:
  - name: bench
    candidate: {{model: gpt-4o, prompt: {{text: "Be brief.", mode: replace}}}}
    plan:
      tier: staging
      gates:
        - {{metric: expect_pass_rate, max_delta_to_baseline: 0.05}}
        - {{metric: error_rate, max_delta_to_baseline: 0.05}}
"""
    )
    bodies, lines = [], []
    for i in range(cases):
        question = f"Case {i}: where is order A-{100000 + i}?"
        request = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": question}]}
        bodies.append(orjson.dumps(request))
        line = {"id": f"c{i}", "request": request, "expect": {"contains": f"A-{100000 + i}"}}
        lines.append(orjson.dumps(line))
    dataset = directory / "cases.jsonl"
    dataset.write_bytes(b"\n".join(lines) + b"\n")
    return config, dataset, bodies


def run_eval(config: Path, dataset: Path, cache: Path, concurrency: int, fresh: bool) -> float:
    report = cache.parent / "report.json"
    argv = [*ROLLOUT, "eval"]
    argv += ["--config", str(config), "--rollout", "bench", "--dataset", str(dataset)]
    argv += ["--concurrency", str(concurrency), "--cache", str(cache), "--json", str(report)]
    if fresh:
        argv.append("--no-cache")
    subprocess.run(argv, cwd=REPO, check=False, capture_output=True)
    return json.loads(report.read_text())["run"]["seconds"]


async def direct(port: int, bodies: list[bytes], concurrency: int) -> float:
    """Both arms' requests straight to the provider: the floor of what any client pays."""
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    jobs = iter([b for b in bodies for _ in range(2)])
    headers = {"content-type": "application/json"}
    async with aiohttp.ClientSession() as session:

        async def worker() -> None:
            for body in jobs:
                async with session.post(url, data=body, headers=headers) as answer:
                    await answer.read()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        settings = directory / "fake.yaml"
        settings.write_text("default: {echo: true}\n")
        fake = subprocess.Popen(
            [*ROLLOUT, "fake-provider", "--port", str(port), "--settings", str(settings)],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        try:
            time.sleep(1.5)
            config, dataset, bodies = write_inputs(directory, args.cases, port)
            rows = {"direct": [], "eval (no cache)": [], "eval (cached)": []}
            for _ in range(args.rounds):
                rows["direct"].append(asyncio.run(direct(port, bodies, args.concurrency)))
                cache = directory / "cache"
                rows["eval (no cache)"].append(
                    run_eval(config, dataset, cache, args.concurrency, fresh=True)
                )
                run_eval(config, dataset, cache, args.concurrency, fresh=False)  # fills it
                rows["eval (cached)"].append(
                    run_eval(config, dataset, cache, args.concurrency, fresh=False)
                )
        finally:
            fake.terminate()
            fake.wait(10)
    floor = statistics.median(rows["direct"])
    print(f"{args.cases} cases x 2 arms, concurrency {args.concurrency}, {args.rounds} rounds")
    print(f"{'':<18}{'cases/s (median)':>18}{'min..max':>20}{'time vs direct':>16}")
    for name, seconds in rows.items():
        rates = sorted(args.cases / s for s in seconds)
        ratio = statistics.median(seconds) / floor
        span = f"{rates[0]:.0f}..{rates[-1]:.0f}"
        rate = args.cases / statistics.median(seconds)
        print(f"{name:<18}{rate:>18.0f}{span:>20}{ratio:>15.2f}x")


if __name__ == "__main__":
    main()
