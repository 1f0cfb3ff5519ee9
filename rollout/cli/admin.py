"""`rollout status|history|weight|kill|unkill|rollback|flag|pause|resume|promote|approve|pairs|
reload`: the admin API from the command line, over HTTP to a running proxy's admin port
(rollout/cli/http.py); `reload` also to the `rollout controller` process's.
"""

from __future__ import annotations

import argparse
import urllib.parse
from typing import Any

from rollout.cli import args as cli_args
from rollout.cli.capture import add_capture_command
from rollout.cli.config import add_reload_command
from rollout.cli.http import DEFAULT_ADMIN_URL, URL_ENV, Command, call, run_command, seg, why
from rollout.cli.output import change_summary, iso, print_json, print_table, show, state_line
from rollout.cli.pairs import add_pairs_command
from rollout.cli.people import add_people_commands
from rollout.cli.status import add_status_command


def add_admin_commands(sub: Any) -> None:
    """Register the admin-API commands on the `rollout` parser's subparsers."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--admin",
        metavar="URL",
        help=f"admin API base URL (default: ${URL_ENV} or {DEFAULT_ADMIN_URL})",
    )
    changes = argparse.ArgumentParser(add_help=False, parents=[common])
    changes.add_argument(
        "--reason", required=True, type=cli_args.text, help="why (kept in the audit log)"
    )
    changes.add_argument("--actor", type=cli_args.text, help="who (default: $USER, else 'cli')")

    add_status_command(sub, common)

    history = sub.add_parser("history", parents=[common], help="the audit log, oldest first")
    history.add_argument(
        "rollout", metavar="ROLLOUT", nargs="?", help="only this rollout's entries"
    )
    history.add_argument(
        "--limit", type=cli_args.limit, default=20, help="newest N entries (default 20)"
    )
    history.add_argument("--json", action="store_true", help="print the API's JSON")
    history.set_defaults(command=run_command(_history))

    weight = sub.add_parser("weight", parents=[changes], help="set a rollout's weight")
    weight.add_argument("name", metavar="NAME")
    weight.add_argument(
        "fraction",
        metavar="FRACTION",
        type=cli_args.fraction,
        help="share of traffic, 0..1 (0.2 = 20%%)",
    )
    weight.set_defaults(command=run_command(_weight))

    kill = sub.add_parser("kill", parents=[changes], help="everyone back on the baseline, now")
    kill.add_argument("name", metavar="NAME")
    kill.set_defaults(command=run_command(_kill(True)))

    unkill = sub.add_parser("unkill", parents=[changes], help="lift a rollout's kill switch")
    unkill.add_argument("name", metavar="NAME")
    unkill.set_defaults(command=run_command(_kill(False)))

    rollback = sub.add_parser(
        "rollback", parents=[changes], help="weight 0, new epoch, stickiness cleared"
    )
    rollback.add_argument("name", metavar="NAME")
    rollback.set_defaults(command=run_command(_rollback))

    flag = sub.add_parser("flag", parents=[changes], help="override a flag on every replica")
    flag.add_argument("name", metavar="NAME")
    on_off = flag.add_mutually_exclusive_group(required=True)
    on_off.add_argument("--on", dest="enabled", action="store_const", const=True, help="enable")
    on_off.add_argument("--off", dest="enabled", action="store_const", const=False, help="disable")
    flag.add_argument("--percent", type=cli_args.percent, help="share of matching requests, 0..100")
    flag.set_defaults(command=run_command(_flag))
    add_people_commands(sub, changes)
    add_pairs_command(sub, common)
    add_capture_command(sub, common)
    add_reload_command(sub, common)


# --- commands -------------------------------------------------------------------------------


def _history(args: argparse.Namespace) -> int:
    query = {"limit": str(args.limit)}
    if args.rollout:
        query["rollout"] = args.rollout
    body = call(args, "GET", "/v1/audit?" + urllib.parse.urlencode(query))
    if args.json:
        return print_json(body)
    entries = body.get("entries", [])
    if not entries:
        print("no audit entries" + (f" for {args.rollout!r}" if args.rollout else ""))
        return 0
    rows = [
        [
            iso(e.get("ts")),
            str(e.get("actor", "-")),
            str(e.get("action", "-")),
            e["rollout"] if e.get("rollout") else f"flag {e['flag']}" if e.get("flag") else "-",
            str(e.get("reason", "")),
            change_summary(e.get("before") or {}, e.get("after") or {}),
        ]
        for e in entries
    ]
    print_table(["TIME", "ACTOR", "ACTION", "ROLLOUT/FLAG", "REASON", "CHANGE"], rows)
    return 0


def _weight(args: argparse.Namespace) -> int:
    return _change_rollout(args, {"weight": args.fraction})


def _kill(killed: bool) -> Command:
    def run(args: argparse.Namespace) -> int:
        return _change_rollout(args, {"killed": killed})

    return run


def _change_rollout(args: argparse.Namespace, change: dict[str, Any]) -> int:
    body = call(args, "POST", f"/v1/rollouts/{seg(args.name)}", change | why(args))
    print(state_line(body))
    return 0


def _rollback(args: argparse.Namespace) -> int:
    body = call(args, "POST", f"/v1/rollouts/{seg(args.name)}/rollback", why(args))
    print(state_line(body) + " (rolled back)")
    return 0


def _flag(args: argparse.Namespace) -> int:
    change: dict[str, Any] = {"enabled": args.enabled}
    if args.percent is not None:
        change["percent"] = args.percent
    body = call(args, "POST", f"/v1/flags/{seg(args.name)}", change | why(args))
    override = body.get("override") or {}
    parts = [f"{k} {show(k, v)}" for k, v in override.items()]
    print(f"flag {body.get('name', args.name)}: {', '.join(parts) or 'no override'}")
    return 0
