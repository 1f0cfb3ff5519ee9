"""The `rollout` command.

The CLI is the composition root: `serve`, `controller`, `demo` and `fake-provider` start HTTP
servers, so they import `proxy` lazily, inside the command; everything else in `rollout` stays
free of it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
from collections.abc import Sequence

from rollout.cli_admin import add_admin_commands
from rollout.cli_simulate import add_simulate_command
from rollout.config import Config, load_config, missing_credentials
from rollout.errors import ConfigError, RolloutError


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return args.command(args) or 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rollout", description=__doc__.splitlines()[0])
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the proxy")
    serve.add_argument("--config", required=True, help="YAML config file")
    serve.add_argument("--workers", type=int, default=1, help="processes sharing the port")
    serve.set_defaults(command=_serve)

    controller = sub.add_parser(
        "controller", help="ramp automatic rollouts (a process of its own; needs Redis)"
    )
    controller.add_argument("--config", required=True, help="YAML config file")
    controller.add_argument("--interval", type=float, default=1.0, help="seconds between steps")
    controller.add_argument(
        "--admin-port",
        type=int,
        metavar="PORT",
        help="port of its /metrics, /readyz and config API (default: the config's admin.port)",
    )
    controller.set_defaults(command=_controller)

    check = sub.add_parser("check-config", help="validate a config file; exit 1 if invalid")
    check.add_argument("file")
    check.set_defaults(command=_check_config)

    demo = sub.add_parser("demo", help="the proxy in front of the built-in fake provider")
    demo.add_argument("--config", default="config/demo.yaml")
    demo.add_argument("--fake-port", type=int, default=8081)
    demo.set_defaults(command=_demo)

    fake = sub.add_parser("fake-provider", help="run the fake LLM provider used by tests")
    fake.add_argument("--host", default="127.0.0.1")
    fake.add_argument("--port", type=int, default=8081)
    fake.add_argument("--settings", help="YAML file of behaviour knobs")
    fake.add_argument("--workers", type=int, default=1)
    fake.set_defaults(command=_fake_provider)
    add_admin_commands(sub)
    add_simulate_command(sub)
    return parser


def _load(path: str) -> Config:
    try:
        return load_config(path)
    except ConfigError as exc:
        print(f"invalid config:\n{exc}", file=sys.stderr)
        raise SystemExit(1) from exc


def _check_config(args: argparse.Namespace) -> int:
    config = _load(args.file)
    for name in missing_credentials(config):
        print(f"warning: environment variable {name} is not set", file=sys.stderr)
    print(f"{args.file}: ok ({len(config.providers)} providers, {len(config.routes)} routes)")
    return 0


def _serve(args: argparse.Namespace) -> int:
    config = _load(args.config)
    if args.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Must be set before prometheus-client creates any metric (importing proxy does).
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="llm-rollout-metrics-")
    from proxy.serve import serve

    missing = missing_credentials(config)
    if missing:
        print(f"environment variables not set: {', '.join(missing)}", file=sys.stderr)
        return 1
    serve(config, workers=args.workers, config_path=args.config)
    return 0


def _controller(args: argparse.Namespace) -> int:
    config = _load(args.config)
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
    admin = config.admin
    if args.admin_port is not None:
        admin = admin.model_copy(update={"port": args.admin_port})
    from proxy.controller_admin import run_controller

    try:
        asyncio.run(run_controller(config, args.config, args.interval, admin))
    except RolloutError as exc:
        print(f"rollout controller: {exc}", file=sys.stderr)
        return 1
    return 0


def _demo(args: argparse.Namespace) -> int:
    from proxy.demo import run_demo

    run_demo(_load(args.config), fake_port=args.fake_port, config_path=args.config)
    return 0


def _fake_provider(args: argparse.Namespace) -> int:
    from proxy.fake_provider import load_settings, run

    settings = load_settings(args.settings) if args.settings else None
    run(args.host, args.port, settings, workers=args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
