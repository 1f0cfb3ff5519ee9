"""`rollout reload [--json]`: make a running process reload its config file now, over its admin
port (`POST /v1/config/reload`, docs/reload.md): a `rollout serve` replica (with several
workers, all of them) or the `rollout controller` process. Needs an operator's token.

Prints what changed, or that nothing did; a refused reload prints every problem as
`file: key.path: message (got value)` and exits 1, the old config still running.
"""

from __future__ import annotations

import argparse
from typing import Any

from rollout.cli.http import call, run_command
from rollout.cli.output import print_json


def add_reload_command(sub: Any, common: argparse.ArgumentParser) -> None:
    reload = sub.add_parser(
        "reload",
        parents=[common],
        help="reload the config file of the process behind --admin now",
    )
    reload.add_argument("--json", action="store_true", help="print the API's JSON")
    reload.set_defaults(command=run_command(_reload))


def _reload(args: argparse.Namespace) -> int:
    body = call(args, "POST", "/v1/config/reload", {})
    if args.json:
        return print_json(body)
    changes, running = body.get("changes") or [], body.get("config_hash", "?")
    if not changes:
        print(f"config unchanged: the file says what already runs (config {running})")
        return 0
    print(f"config reloaded (config {running}):")
    for change in changes:
        print(f"  {change}")
    return 0
