"""`rollout eval`: a dataset through both arms of a rollout, judged by the plan's gates.

Exit codes: 0 pass, 1 fail, 2 conditional pass, 3 could not evaluate (a bad dataset or config,
a cost cap, an unreachable provider, or too little data to decide a primary gate).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from rollout.cli.data_plane import load_or_exit, run_eval_cases
from rollout.config import Config
from rollout.config.prices import price_table
from rollout.config.rollouts import Rollout
from rollout.control.eval_evidence import record_eval
from rollout.errors import DatasetError, EvalError, ReviewError, RolloutError
from rollout.eval.cache import ResponseCache, default_cache_dir
from rollout.eval.dataset import Dataset, load_dataset
from rollout.eval.estimate import estimate_cost
from rollout.eval.gates import judge_gates
from rollout.eval.render import junit, markdown, summary
from rollout.eval.report import EvalReport, report_doc
from rollout.eval.result import EvalRun
from rollout.eval.target import find_rollout
from rollout.eval.verdict import overall_verdict
from rollout.quality.redact import Redactor
from rollout.scorers.apply import reliability, review_queue
from rollout.scorers.base import Completion, Scorer
from rollout.scorers.build import build_scorers, scorer_problems
from rollout.scorers.cache import VerdictCache
from rollout.scorers.review import load_labels, write_queue
from rollout.store.from_config import open_configured_store

COULD_NOT_EVALUATE = 3


def add_eval_command(sub: Any) -> None:
    p = sub.add_parser(
        "eval",
        help="send a dataset through both arms of a rollout and judge the plan's gates",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", required=True, help="YAML config file")
    p.add_argument("--rollout", required=True, help="the rollout whose arms are compared")
    p.add_argument("--dataset", required=True, help="JSONL file, one case a line")
    p.add_argument("--tier", choices=["dev", "staging", "prod"], help="default: the plan's")
    p.add_argument("--concurrency", type=int, default=8, help="calls in flight (default 8)")
    p.add_argument("--repeat", type=int, default=1, help="answers per case and arm (default 1)")
    p.add_argument("--max-cost", type=float, metavar="USD", help="stop at this new spend")
    p.add_argument("--cache", metavar="DIR", help=f"answer cache (default {default_cache_dir()})")
    p.add_argument("--no-cache", action="store_true", help="send every call afresh")
    p.add_argument("--markdown", metavar="FILE", help="write the report for a PR comment")
    p.add_argument("--json", metavar="FILE", help="write the report as JSON")
    p.add_argument("--junit", metavar="FILE", help="write one JUnit test case per gate")
    p.add_argument(
        "--review-queue", metavar="FILE", help="write the judged answers sampled for review"
    )
    p.add_argument(
        "--record", action="store_true", help="store the result as the version's evidence"
    )
    p.add_argument("--by", help="who ran it, for the record (default: $USER)")
    p.set_defaults(command=eval_command)


def eval_command(args: argparse.Namespace) -> int:
    if args.concurrency < 1 or args.repeat < 1:
        print("rollout eval: --concurrency and --repeat must be at least 1", file=sys.stderr)
        return COULD_NOT_EVALUATE
    config = load_or_exit(args.config)
    try:
        rollout = find_rollout(config, args.rollout)
        dataset = load_dataset(args.dataset)
    except (DatasetError, EvalError) as exc:
        print(f"rollout eval: could not evaluate:\n{exc}", file=sys.stderr)
        return COULD_NOT_EVALUATE
    estimate = estimate_cost(
        (c.request for c in dataset.cases), rollout, price_table(config), args.repeat
    )
    calls = 2 * len(dataset.cases) * args.repeat
    shown = "unknown (a model has no price)" if estimate is None else f"at most ${estimate:.4f}"
    print(f"rollout eval: {calls} calls, cost {shown} before the cache", file=sys.stderr)
    problems = scorer_problems(config, args.config)
    if problems:
        print("invalid config:\n" + "\n".join(map(str, problems)), file=sys.stderr)
        return 1
    cache_dir = None if args.no_cache else Path(args.cache or default_cache_dir())
    cache = None if cache_dir is None else ResponseCache(cache_dir)
    verdicts = None if cache_dir is None else VerdictCache(cache_dir / "judge")
    factory = None
    if config.scorers:
        factory = lambda complete: build_scorers(config, complete, verdicts)  # noqa: E731
    try:
        run = run_eval_cases(config, args, dataset, cache, _progress(), factory)
        run.reliability = judge_checks(config, run, rollout.plan.confidence.promote)
    except (EvalError, ReviewError) as exc:
        print(f"\nrollout eval: could not evaluate: {exc}", file=sys.stderr)
        return COULD_NOT_EVALUATE
    run.estimate_usd = estimate
    return _conclude(args, config, rollout, dataset, run)


def _conclude(
    args: argparse.Namespace, config: Config, rollout: Rollout, dataset: Dataset, run: EvalRun
) -> int:
    tier = args.tier or rollout.plan.tier
    gates = judge_gates(rollout.plan, tier, run.calls, run.reliability)
    verdict = overall_verdict(gates, run.stopped)
    redact = rollout.shadow.redact if rollout.shadow is not None else None
    redactor = (
        Redactor(redact.patterns, redact.defaults, redact.secret_keys) if redact else Redactor()
    )
    report = EvalReport(
        run, tier, gates, verdict, dataset.cases, redactor, rollout.plan.confidence.promote
    )
    doc = report_doc(report)
    if args.review_queue:
        items = review_queue(
            run.calls, dataset.cases, _scorers(config), config.scorers, redactor.redact_json
        )
        write_queue(args.review_queue, items)
    _write(args.json, orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
    _write(args.markdown, markdown(doc))
    _write(args.junit, junit(doc))
    print(summary(doc))
    if args.record:
        _record(config, rollout, doc, args.by or os.environ.get("USER") or getpass.getuser())
    return verdict.exit_code


def _write(path: str | None, text: str) -> None:
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")


def _record(config: Config, rollout: Rollout, doc: dict[str, Any], actor: str) -> None:
    entry = {
        "version": doc["version"],
        "verdict": doc["verdict"],
        "tier": doc["tier"],
        "dataset": doc["dataset"]["path"],
        "dataset_digest": doc["dataset"]["digest"],
        "cases": doc["dataset"]["cases"],
        "repeat": doc["repeat"],
        "gates": doc["gates"],
        "by": actor,
        "at": time.time(),
    }

    async def write() -> None:
        store = open_configured_store(config.store)
        try:
            await record_eval(store, rollout.name, entry, actor)
        finally:
            await store.close()

    try:
        asyncio.run(write())
    except RolloutError as exc:
        print(f"rollout eval: the result was not recorded: {exc}", file=sys.stderr)
        raise SystemExit(COULD_NOT_EVALUATE) from exc
    print(f"recorded as the evidence of {rollout.name} version {entry['version'][:12]}")


def _scorers(config: Config) -> dict[str, Scorer]:
    """The scorers as built for the run, for what they are (no judge is called)."""
    return build_scorers(config, _no_calls)


async def _no_calls(provider: str, body: dict[str, Any]) -> Completion:
    raise EvalError("no judge call is made after the run")


def judge_checks(config: Config, run: EvalRun, confidence: float) -> tuple:
    """Each judge's reliability in the run: the second judge, and people's labels."""
    labels = {
        name: load_labels(spec.review.labels)
        for name, spec in config.scorers.items()
        if spec.review is not None
    }
    return reliability(run.calls, _scorers(config), config.scorers, labels, confidence)


def _progress() -> Any:
    """A running count and spend on a terminal; a line per tenth of the run in a CI log."""
    tty = sys.stderr.isatty()
    shown = {"tenth": -1}

    def show(done: int, total: int, spent: float) -> None:
        if tty:
            print(f"\r  {done}/{total} calls, ${spent:.4f} spent", end="", file=sys.stderr)
            if done == total:
                print(file=sys.stderr)
            return
        tenth = done * 10 // total
        if tenth != shown["tenth"]:
            shown["tenth"] = tenth
            print(f"  {done}/{total} calls, ${spent:.4f} spent", file=sys.stderr)

    return show
