"""`rollout status|history|weight|kill|unkill|rollback|flag`: the admin API from the command line.

Standard library only (urllib): these commands talk HTTP to a running proxy's admin port and
import nothing of the proxy. Reads are open; changes send `Authorization: Bearer` with the token
from LLM_ROLLOUT_ADMIN_TOKEN. Any failure is one line on stderr and exit code 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from rollout.cli_output import (
    change_summary,
    iso,
    pct,
    print_json,
    print_table,
    show,
    state_line,
    yes_no,
)

DEFAULT_ADMIN_URL = "http://127.0.0.1:9090"
URL_ENV = "LLM_ROLLOUT_ADMIN_URL"
TOKEN_ENV = "LLM_ROLLOUT_ADMIN_TOKEN"
TIMEOUT = 5.0

Command = Callable[[argparse.Namespace], int]


class AdminError(Exception):
    """A failed call to the admin API, as the one line to show."""


def add_admin_commands(sub: Any) -> None:
    """Register the admin-API commands on the `rollout` parser's subparsers."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--admin",
        metavar="URL",
        help=f"admin API base URL (default: ${URL_ENV} or {DEFAULT_ADMIN_URL})",
    )
    changes = argparse.ArgumentParser(add_help=False, parents=[common])
    changes.add_argument("--reason", required=True, type=_text, help="why (kept in the audit log)")
    changes.add_argument("--actor", type=_text, help="who (default: $USER, else 'cli')")

    status = sub.add_parser("status", parents=[common], help="live state of every rollout")
    status.add_argument("--json", action="store_true", help="print the API's JSON")
    status.set_defaults(command=_run(_status))

    history = sub.add_parser("history", parents=[common], help="the audit log, oldest first")
    history.add_argument(
        "rollout", metavar="ROLLOUT", nargs="?", help="only this rollout's entries"
    )
    history.add_argument("--limit", type=_limit, default=20, help="newest N entries (default 20)")
    history.add_argument("--json", action="store_true", help="print the API's JSON")
    history.set_defaults(command=_run(_history))

    weight = sub.add_parser("weight", parents=[changes], help="set a rollout's weight")
    weight.add_argument("name", metavar="NAME")
    weight.add_argument(
        "fraction", metavar="FRACTION", type=_fraction, help="share of traffic, 0..1 (0.2 = 20%%)"
    )
    weight.set_defaults(command=_run(_weight))

    kill = sub.add_parser("kill", parents=[changes], help="everyone back on the baseline, now")
    kill.add_argument("name", metavar="NAME")
    kill.set_defaults(command=_run(_kill(True)))

    unkill = sub.add_parser("unkill", parents=[changes], help="lift a rollout's kill switch")
    unkill.add_argument("name", metavar="NAME")
    unkill.set_defaults(command=_run(_kill(False)))

    rollback = sub.add_parser(
        "rollback", parents=[changes], help="weight 0, new epoch, stickiness cleared"
    )
    rollback.add_argument("name", metavar="NAME")
    rollback.set_defaults(command=_run(_rollback))

    flag = sub.add_parser("flag", parents=[changes], help="override a flag on every replica")
    flag.add_argument("name", metavar="NAME")
    on_off = flag.add_mutually_exclusive_group(required=True)
    on_off.add_argument("--on", dest="enabled", action="store_const", const=True, help="enable")
    on_off.add_argument("--off", dest="enabled", action="store_const", const=False, help="disable")
    flag.add_argument("--percent", type=_percent, help="share of matching requests, 0..100")
    flag.set_defaults(command=_run(_flag))


# --- commands -------------------------------------------------------------------------------


def _status(args: argparse.Namespace) -> int:
    body = _call(args, "GET", "/v1/rollouts")
    if args.json:
        return print_json(body)
    rows = [
        [
            r["name"],
            str(r["version"]),
            pct(r["weight"]),
            pct(r["max_weight"]),
            yes_no(r["killed"]),
            str(r["epoch"]),
            r["source"],
        ]
        for r in body.get("rollouts", [])
    ]
    if rows:
        header = ["NAME", "VERSION", "WEIGHT", "MAX WEIGHT", "KILLED", "EPOCH", "SOURCE"]
        print_table(header, rows)
    else:
        print("no rollouts configured")
    up = body.get("store_up")
    print(f"store: {'up' if up else 'DOWN (replicas serve the state they last knew)'}")
    return 0


def _history(args: argparse.Namespace) -> int:
    query = {"limit": str(args.limit)}
    if args.rollout:
        query["rollout"] = args.rollout
    body = _call(args, "GET", "/v1/audit?" + urllib.parse.urlencode(query))
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
    body = _call(args, "POST", f"/v1/rollouts/{_seg(args.name)}", change | _why(args))
    print(state_line(body))
    return 0


def _rollback(args: argparse.Namespace) -> int:
    body = _call(args, "POST", f"/v1/rollouts/{_seg(args.name)}/rollback", _why(args))
    print(state_line(body) + " (rolled back)")
    return 0


def _flag(args: argparse.Namespace) -> int:
    change: dict[str, Any] = {"enabled": args.enabled}
    if args.percent is not None:
        change["percent"] = args.percent
    body = _call(args, "POST", f"/v1/flags/{_seg(args.name)}", change | _why(args))
    override = body.get("override") or {}
    parts = [f"{k} {show(k, v)}" for k, v in override.items()]
    print(f"flag {body.get('name', args.name)}: {', '.join(parts) or 'no override'}")
    return 0


# --- HTTP -----------------------------------------------------------------------------------


def _run(command: Command) -> Command:
    """Turn an AdminError into one line on stderr and exit code 1."""

    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except AdminError as exc:
            print(f"rollout: error: {exc}", file=sys.stderr)
            return 1

    return run


def _call(args: argparse.Namespace, method: str, path: str, body: Any = None) -> Any:
    base = (args.admin or os.environ.get(URL_ENV) or DEFAULT_ADMIN_URL).rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise AdminError(f"admin URL must start with http:// or https://, not {base!r}")
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
        token = os.environ.get(TOKEN_ENV, "")
        if token:
            headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(base + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        raise AdminError(_api_error(exc)) from exc
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise AdminError(_timed_out(base)) from exc
        reason = getattr(exc.reason, "strerror", None) or exc.reason
        raise AdminError(f"cannot reach the admin API at {base}: {reason}") from exc
    except TimeoutError as exc:
        raise AdminError(_timed_out(base)) from exc
    except OSError as exc:  # connection reset mid-answer and the like
        raise AdminError(f"cannot reach the admin API at {base}: {exc}") from exc
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise AdminError(f"the admin API at {base} answered something other than JSON") from exc


def _api_error(exc: urllib.error.HTTPError) -> str:
    try:
        raw = exc.read()
        message = json.loads(raw)["error"]["message"]
    except (OSError, ValueError, KeyError, TypeError):
        message = exc.reason or "no message"
    hint = ""
    if exc.code == 401 and not os.environ.get(TOKEN_ENV):
        hint = f" (set {TOKEN_ENV})"
    return f"{message}{hint} (HTTP {exc.code})"


def _timed_out(base: str) -> str:
    return f"the admin API at {base} did not answer within {TIMEOUT:g} s"


def _why(args: argparse.Namespace) -> dict[str, str]:
    return {"reason": args.reason, "actor": args.actor or os.environ.get("USER") or "cli"}


def _seg(name: str) -> str:
    return urllib.parse.quote(name, safe="")


# --- argument types -------------------------------------------------------------------------


def _text(value: str) -> str:
    if not value.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return value


def _number(value: str, low: float, high: float) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not low <= number <= high:
        raise argparse.ArgumentTypeError(f"must be between {low:g} and {high:g}, not {value}")
    return number


def _fraction(value: str) -> float:
    return _number(value, 0.0, 1.0)


def _percent(value: str) -> float:
    return _number(value, 0.0, 100.0)


def _limit(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if not 1 <= number <= 1000:
        raise argparse.ArgumentTypeError(f"must be between 1 and 1000, not {value}")
    return number
