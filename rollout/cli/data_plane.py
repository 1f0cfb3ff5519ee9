"""The verbs that start the data plane: `serve`, `controller`, `demo`, `fake-provider`, and
the harness `rollout eval` sends its cases through.

The one module of `rollout` allowed to import `proxy` (tests/test_import_graph.py checks it): it
does so lazily, inside each command, so `rollout status` and friends never load aiohttp's server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from collections.abc import Callable, Mapping

from rollout.config import Config, load_config, missing_credentials
from rollout.config.gate_warnings import gate_warnings
from rollout.errors import ConfigError, RolloutError
from rollout.eval.cache import ResponseCache
from rollout.eval.dataset import Dataset
from rollout.eval.result import EvalRun
from rollout.scorers.base import Complete, Scorer


def load_or_exit(path: str) -> Config:
    try:
        return load_config(path)
    except ConfigError as exc:
        print(f"invalid config:\n{exc}", file=sys.stderr)
        raise SystemExit(1) from exc


def warn_gates(config: Config) -> None:
    """Gates that cannot get data as configured: said at start, the process runs all the same."""
    for warning in gate_warnings(config):
        print(f"warning: {warning}", file=sys.stderr)


def serve_command(args: argparse.Namespace) -> int:
    config = load_or_exit(args.config)
    if args.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Must be set before prometheus-client creates any metric (importing proxy does).
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="llm-rollout-metrics-")
    from proxy.serve import serve

    warn_gates(config)
    missing = missing_credentials(config)
    if missing:
        print(f"environment variables not set: {', '.join(missing)}", file=sys.stderr)
        return 1
    try:
        serve(config, workers=args.workers, config_path=args.config)
    except RolloutError as exc:  # a port in use, a data directory it cannot write: one line
        print(f"rollout serve: {exc}", file=sys.stderr)
        return 1
    return 0


def controller_command(args: argparse.Namespace) -> int:
    config = load_or_exit(args.config)
    if not (config.store.redis_url or config.store.redis_url_env):
        print(
            "the controller process needs a shared store (store.redis_url); with the embedded"
            " store it runs inside `rollout serve`",
            file=sys.stderr,
        )
        return 1
    if not any(r.plan.automatic for r in config.rollouts):
        print("no rollout has an automatic plan (plan: {automatic: true})", file=sys.stderr)
        return 1
    warn_gates(config)
    admin = config.admin
    if args.admin_port is not None:
        admin = admin.model_copy(update={"port": args.admin_port})
    from proxy.admin.controller import run_controller

    try:
        asyncio.run(run_controller(config, args.config, args.interval, admin))
    except RolloutError as exc:
        print(f"rollout controller: {exc}", file=sys.stderr)
        return 1
    return 0


def demo_command(args: argparse.Namespace) -> int:
    from proxy.demo import demo_config_path, run_demo

    path = args.config or demo_config_path()
    config = load_or_exit(path)
    with tempfile.TemporaryDirectory(prefix="llm-rollout-demo-") as fresh:
        store = config.store.model_copy(update={"data_dir": args.data_dir or fresh})
        try:
            run_demo(config.model_copy(update={"store": store}), args.fake_port, path)
        except RolloutError as exc:
            print(f"rollout demo: {exc}", file=sys.stderr)
            return 1
    return 0


def fake_provider_command(args: argparse.Namespace) -> int:
    from proxy.fake_provider import load_settings, run

    settings = load_settings(args.settings) if args.settings else None
    run(args.host, args.port, settings, workers=args.workers)
    return 0


def run_eval_cases(
    config: Config,
    args: argparse.Namespace,
    dataset: Dataset,
    cache: ResponseCache | None,
    progress: Callable[[int, int, float], None] | None,
    scorers: Callable[[Complete], Mapping[str, Scorer]] | None = None,
) -> EvalRun:
    """Every case through both arms, through the proxy's own stages (proxy/eval/), then every
    answer through the configured scorers (judges call their providers the same way)."""
    from proxy.eval.runner import Settings, run_eval

    settings = Settings(concurrency=args.concurrency, repeat=args.repeat, max_cost=args.max_cost)
    return asyncio.run(run_eval(config, args.rollout, dataset, settings, cache, progress, scorers))
