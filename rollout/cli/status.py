"""`rollout status [--watch SECONDS] [--json]`: where every rollout stands, one table each."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from rollout.cli import args as cli_args
from rollout.cli.http import AdminError, call, run_command
from rollout.cli.look_output import look_rows
from rollout.cli.output import print_json, print_table, rollout_rows

# Replaced in tests: the watch loop's wait and the clock that "4m ago" is measured against.
sleep = time.sleep
clock = time.time
_CLEAR = "\x1b[H\x1b[2J"


def add_status_command(sub: Any, common: argparse.ArgumentParser) -> None:
    status = sub.add_parser("status", parents=[common], help="where every rollout stands")
    status.add_argument("--json", action="store_true", help="print the API's JSON")
    status.add_argument(
        "--watch",
        metavar="SECONDS",
        type=cli_args.seconds,
        help="show it again every SECONDS until interrupted (Ctrl-C)",
    )
    status.set_defaults(command=run_command(_status))


def _status(args: argparse.Namespace) -> int:
    if args.watch is None:
        return _show(args)
    try:
        while True:
            if sys.stdout.isatty():
                print(_CLEAR, end="")
            try:
                _show(args)
            except AdminError as exc:  # keep watching: the proxy may come back
                print(f"rollout: error: {exc}", file=sys.stderr)
            sys.stdout.flush()
            sleep(args.watch)
            print()
    except KeyboardInterrupt:
        return 0


def _show(args: argparse.Namespace) -> int:
    body = call(args, "GET", "/v1/rollouts")
    if args.json:
        return print_json(body)
    rollouts = body.get("rollouts", [])
    if not rollouts:
        print("no rollouts configured")
    now = clock()
    for entry in rollouts:
        kind = "automatic" if entry.get("automatic") else "by hand"
        print(f"{entry['name']}  (version {entry.get('version')}, {kind})")
        rows = rollout_rows(entry, now)
        if entry.get("automatic"):  # the controller's last look: why it waits
            rows += look_rows(entry.get("look"), now)
        print_table(None, [["", *row] for row in rows])
        print()
    up = body.get("store_up")
    print(f"store: {'up' if up else 'DOWN (replicas serve the state they last knew)'}")
    return 0
