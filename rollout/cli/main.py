"""The `rollout` command: the parser, and `check-config`.

The verbs that start servers (`serve`, `controller`, `demo`, `fake-provider`) are in
data_plane.py, the one module of `rollout` that imports `proxy`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from rollout.cli.admin import add_admin_commands
from rollout.cli.data_plane import (
    controller_command,
    demo_command,
    fake_provider_command,
    load_or_exit,
    serve_command,
)
from rollout.cli.eval import add_eval_command
from rollout.cli.review import add_review_command
from rollout.cli.simulate import add_simulate_command
from rollout.config import missing_credentials
from rollout.config.gate_warnings import gate_warnings
from rollout.scorers.build import scorer_problems


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        logging.basicConfig(
            level=getattr(logging, args.log_level.upper()),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        return args.command(args) or 0
    except BrokenPipeError:
        # `rollout status | head`: the reader left. Python's recipe: point stdout at devnull so
        # the interpreter's final flush does not fail again, and exit 1 as Python does on EPIPE.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rollout",
        description="llm-rollout: every LLM prompt or model change as a gated, measured,"
        " reversible release. `rollout COMMAND --help` for each command.",
    )
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the proxy")
    serve.add_argument("--config", required=True, help="YAML config file")
    serve.add_argument("--workers", type=int, default=1, help="processes sharing the port")
    serve.set_defaults(command=serve_command)

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
    controller.set_defaults(command=controller_command)

    check = sub.add_parser("check-config", help="validate a config file; exit 1 if invalid")
    check.add_argument("file")
    check.set_defaults(command=_check_config)

    demo = sub.add_parser("demo", help="the proxy in front of the built-in fake provider")
    demo.add_argument("--config", help="YAML config (default: the packaged demo, config/demo.yaml)")
    demo.add_argument(
        "--fake-port", type=int, default=8081, help="the fake provider's port (default 8081)"
    )
    demo.add_argument(
        "--data-dir",
        help="keep the demo's state (weight, kill switch) here across runs"
        " (default: a fresh temporary directory each run)",
    )
    demo.set_defaults(command=demo_command)

    fake = sub.add_parser("fake-provider", help="run the fake LLM provider used by tests")
    fake.add_argument("--host", default="127.0.0.1")
    fake.add_argument("--port", type=int, default=8081)
    fake.add_argument("--settings", help="YAML file of behaviour knobs")
    fake.add_argument("--workers", type=int, default=1)
    fake.set_defaults(command=fake_provider_command)
    add_admin_commands(sub)
    add_simulate_command(sub)
    add_eval_command(sub)
    add_review_command(sub)
    return parser


def _check_config(args: argparse.Namespace) -> int:
    config = load_or_exit(args.file)
    problems = scorer_problems(config, args.file)  # rubric contents, builtin expectations
    if problems:
        print("invalid config:\n" + "\n".join(map(str, problems)), file=sys.stderr)
        return 1
    for name in missing_credentials(config):
        print(f"warning: environment variable {name} is not set", file=sys.stderr)
    for warning in gate_warnings(config):
        print(f"warning: {warning}", file=sys.stderr)
    print(f"{args.file}: ok ({len(config.providers)} providers, {len(config.routes)} routes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
