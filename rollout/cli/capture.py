"""`rollout capture NAME --out FILE [--limit N]`: the rollout's kept shadow pairs as eval cases.

Each kept pair's request — the live request as the client sent it, redacted and clipped as pairs
are kept (docs/shadow.md) — becomes one dataset line (docs/eval-dataset.md) with the tags
`captured` and the pair's arm, and no expectations: people add those, and until then the case
still measures errors, refusals, latency and cost. Appends to FILE, skipping pairs already in it,
so running it daily grows the eval set from real traffic. Reads GET /v1/rollouts/{name}/shadow.
"""

from __future__ import annotations

import argparse
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import orjson

from rollout.cli import args as cli_args
from rollout.cli.http import call, run_command, seg
from rollout.eval.dataset import APIS, case_line


def add_capture_command(sub: Any, common: argparse.ArgumentParser) -> None:
    capture = sub.add_parser(
        "capture", parents=[common], help="export kept shadow pairs as eval dataset lines"
    )
    capture.add_argument("name", metavar="NAME")
    capture.add_argument("--out", required=True, metavar="FILE", help="JSONL file to append to")
    capture.add_argument(
        "--limit",
        type=cli_args.limit,
        default=200,
        help="newest N pairs (default 200, at most 200)",
    )
    capture.set_defaults(command=run_command(_capture))


def _capture(args: argparse.Namespace) -> int:
    query = urllib.parse.urlencode({"pairs": args.limit})
    body = call(args, "GET", f"/v1/rollouts/{seg(args.name)}/shadow?{query}")
    out = Path(args.out)
    known = _known_ids(out)
    lines = [line for pair in body.get("pairs", []) if (line := _line(pair, known)) is not None]
    with out.open("a", encoding="utf-8") as file:
        file.writelines(line + "\n" for line in lines)
    skipped = len(body.get("pairs", [])) - len(lines)
    print(
        f"{len(lines)} cases appended to {out} ({skipped} skipped: already there or not LLM calls)"
    )
    return 0


def _known_ids(path: Path) -> set[str]:
    if not path.exists():
        return set()
    known = set()
    for line in path.read_bytes().splitlines():
        try:
            known.add(orjson.loads(line)["id"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            continue  # not ours to judge here: `rollout eval` reports malformed lines
    return known


def _line(pair: dict[str, Any], known: set[str]) -> str | None:
    case_id = f"captured-{pair.get('pair')}"
    request, api = pair.get("request"), pair.get("api")
    if case_id in known or not isinstance(request, dict) or api not in APIS:
        return None
    known.add(case_id)
    tags = ["captured", str((pair.get("live") or {}).get("arm") or "baseline")]
    try:
        return case_line(request, id=case_id, api=api, tags=tags)
    except ValueError as exc:
        print(f"pair {pair.get('pair')}: {exc}", file=sys.stderr)
        return None
