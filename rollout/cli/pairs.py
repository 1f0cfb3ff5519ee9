"""`rollout pairs NAME [--limit N] [--hours H] [--json]`: shadow traffic as people read it.

Prints the rollout's mirroring status, the comparison report (per comparator: how often the
candidate disagreed with the live answer, how often the baseline disagreed with itself, and the
excess above that noise, with 95% intervals) and the newest kept pairs, the live answer and the
candidate's side by side. Reads GET /v1/rollouts/{name}/shadow on the admin port.
"""

from __future__ import annotations

import argparse
import shutil
import textwrap
import urllib.parse
from itertools import zip_longest
from typing import Any

from rollout.cli import args as cli_args
from rollout.cli.http import call, run_command, seg
from rollout.cli.output import iso, print_json, print_table, shadow_summary

TEXT_LINES = 12  # lines of each answer shown; --json has all of it


def add_pairs_command(sub: Any, common: argparse.ArgumentParser) -> None:
    pairs = sub.add_parser(
        "pairs", parents=[common], help="shadow pairs side by side, and how much they differ"
    )
    pairs.add_argument("name", metavar="NAME")
    pairs.add_argument("--limit", type=cli_args.limit, default=5, help="newest N pairs (default 5)")
    pairs.add_argument(
        "--hours", type=cli_args.seconds, default=1.0, help="report over the last H hours (1)"
    )
    pairs.add_argument("--json", action="store_true", help="print the API's JSON")
    pairs.set_defaults(command=run_command(_pairs))


def _pairs(args: argparse.Namespace) -> int:
    query = urllib.parse.urlencode({"pairs": args.limit, "hours": args.hours})
    body = call(args, "GET", f"/v1/rollouts/{seg(args.name)}/shadow?{query}")
    if args.json:
        return print_json(body)
    print(status_line(body))
    print()
    report = body.get("report")
    if report:
        print(f"comparisons over the last {body.get('hours', args.hours):g} h (95% intervals):")
        print_table(
            ["COMPARATOR", "CANDIDATE DISAGREES", "BASELINE SELF (NOISE)", "ABOVE NOISE"],
            [report_row(name, r) for name, r in report.items()],
        )
    else:
        print("no compared pairs yet" if report is not None else "report: store unreachable")
    width = shutil.get_terminal_size((120, 24)).columns
    for pair in body.get("pairs", []):
        print()
        print_pair(pair, width)
    return 0


def status_line(body: dict[str, Any]) -> str:
    shadow = {"active": body.get("active"), **(body.get("shadow") or {})}
    return f"{body.get('rollout')}: {shadow_summary(shadow)}"


def report_row(name: str, r: dict[str, Any]) -> list[str]:
    return [
        name,
        _rate(r.get("candidate"), r.get("candidate_pairs")),
        _rate(r.get("noise"), r.get("noise_pairs")),
        _interval(r.get("excess"), signed=True),
    ]


def _rate(interval: dict[str, Any] | None, pairs: int | None) -> str:
    if interval is None:
        return "-"
    return f"{_interval(interval)} of {pairs}"


def _interval(i: dict[str, Any] | None, signed: bool = False) -> str:
    if i is None:
        return "-"
    sign = "+" if signed else ""

    def pct(v: float | None) -> str:
        return "?" if v is None else f"{v * 100:{sign}.1f}%"

    return f"{pct(i['value'])} [{pct(i['low'])}, {pct(i['high'])}]"


def print_pair(pair: dict[str, Any], width: int) -> None:
    found = pair.get("disagreements", {}).get("candidate", {})
    differs = sorted(name for name, d in found.items() if d) or ["nothing"]
    print(f"pair {pair.get('pair')}  {iso(pair.get('ts'))}  disagrees on: {', '.join(differs)}")
    asked = last_question(pair.get("request"))
    if asked:
        print(f"asked: {textwrap.shorten(asked, width - 7)}")
    live, candidate = pair.get("live") or {}, pair.get("candidate") or {}
    column = max(20, (width - 3) // 2)
    left, right = _side_lines(live, column), _side_lines(candidate, column)
    for a, b in zip_longest(left, right, fillvalue=""):
        print(f"{a:<{column}} | {b}".rstrip())


def _side_lines(side: dict[str, Any], width: int) -> list[str]:
    head = f"{side.get('role', '?')} {side.get('arm', '?')}: {side.get('model')}"
    facts = [
        f"error {side['error']}" if side.get("error") else f"status {side.get('status')}",
        f"finish {side.get('finish')}",
        f"{side.get('output_tokens')} tokens",
        f"{side.get('duration')} s",
    ]
    if side.get("refused"):
        facts.append("REFUSED")
    if side.get("json"):
        facts.append(f"json {side['json']}")
    if side.get("tools"):
        facts.append("tools " + ",".join(side["tools"]))
    text = side.get("text") or ("(text not captured)" if side.get("text") is None else "")
    lines = [head[:width], *textwrap.wrap(", ".join(facts), width), "-" * min(width, 20)]
    body = textwrap.wrap(text, width) or [""]
    if len(body) > TEXT_LINES:
        body = [*body[: TEXT_LINES - 1], f"... ({len(body) - TEXT_LINES + 1} more lines)"]
    return lines + body


def last_question(request: Any) -> str | None:
    """The last user turn of a chat, Responses or Anthropic request, as plain text."""
    if not isinstance(request, dict):
        return None
    turns = request.get("messages") or request.get("input")
    if isinstance(turns, str):
        return turns
    if not isinstance(turns, list):
        return None
    for turn in reversed(turns):
        if isinstance(turn, dict) and turn.get("role") == "user":
            return _text_of(turn.get("content"))
    return None


def _text_of(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [b.get("text") for b in content if isinstance(b, dict)]
        return " ".join(t for t in texts if isinstance(t, str)) or None
    return None
