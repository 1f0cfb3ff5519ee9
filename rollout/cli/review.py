"""`rollout review NAME`: people check a judge. The judged answers sampled by `rollout eval
--review-queue FILE` are shown one at a time — the request, the answer(s) — and the reviewer
gives a verdict before the judge's is revealed; each label is appended to the scorer's labels
file (`review.labels`), which the `review_agreement` gate reads.

`--json` prints the reviewer's pending queue (for a web tool); `--import FILE` takes labels
back (JSONL: {"item", "label", "reviewer", "note"?, "at"?}). Exit codes: 0 done, 1 bad input.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

from rollout.cli.data_plane import load_or_exit
from rollout.config import Config
from rollout.errors import ConfigProblem, ReviewError
from rollout.scorers.review import (
    Label,
    allowed_labels,
    append_label,
    load_labels,
    load_queue,
    pending,
    read_jsonl,
)

KEYS = {"p": "pass", "f": "fail", "1": "first", "2": "second", "t": "tie"}


def add_review_command(sub: Any) -> None:
    p = sub.add_parser(
        "review",
        help="label a judge's sampled verdicts (the review_agreement gate)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("name", nargs="?", help="the judge scorer (required unless --import)")
    p.add_argument("--config", required=True, help="YAML config file")
    p.add_argument("--queue", required=True, help="the queue `rollout eval --review-queue` wrote")
    p.add_argument("--reviewer", help="who labels (default: $USER)")
    p.add_argument("--json", action="store_true", help="print the pending queue as JSON")
    p.add_argument("--import", dest="import_file", metavar="FILE", help="append labels from FILE")
    p.set_defaults(command=review_command)


def review_command(args: argparse.Namespace) -> int:
    config = load_or_exit(args.config)
    reviewer = args.reviewer or os.environ.get("USER") or getpass.getuser()
    try:
        if args.import_file:
            return _import(config, args.queue, args.import_file, args.name)
        labels_path = _labels_path(config, args.name)
        queue = load_queue(args.queue, args.name)
        todo = pending(queue, load_labels(labels_path), reviewer)
    except ReviewError as exc:
        print(f"rollout review: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(orjson.dumps(todo, option=orjson.OPT_INDENT_2).decode())
        return 0
    return _session(todo, labels_path, reviewer)


def _labels_path(config: Config, name: str | None) -> str:
    spec = config.scorers.get(name or "")
    if spec is None or spec.kind != "judge" or spec.review is None:
        judges = [n for n, s in config.scorers.items() if s.review is not None]
        message = f"{name!r} is not a judge scorer with review: (those: {', '.join(judges)})"
        raise ReviewError([ConfigProblem("rollout review", "name", message)])
    return spec.review.labels


def _session(todo: list[dict[str, Any]], labels_path: str, reviewer: str) -> int:
    if not todo:
        print("nothing to review: every sampled verdict has your label")
        return 0
    done = 0
    for number, item in enumerate(todo, start=1):
        _show(item, number, len(todo))
        verdict = _ask_verdict(item)
        if verdict is None:
            break
        if verdict == "skip":
            continue
        note = _input("note (enter for none): ").strip()
        judge = item["verdict"]
        print(f"the judge said: {judge['label']} ({judge.get('value')}): {judge.get('reason', '')}")
        append_label(labels_path, _label(item, verdict, reviewer, note))
        done += 1
    print(f"{done} labels recorded in {labels_path}")
    return 0


def _show(item: dict[str, Any], number: int, total: int) -> None:
    print(f"\n[{number}/{total}] {item['scorer']}: case {item.get('case')} ({item.get('arm')})")
    for message in _messages(item.get("request") or {}):
        print(f"  {message}")
    if item.get("reference"):
        print(f"reference: {item['reference']}")
    answers = item.get("answers") or [item.get("answer", "")]
    for i, answer in enumerate(answers, start=1):
        print(f"answer{f' {i}' if len(answers) > 1 else ''}:\n  {answer}")


def _messages(request: dict[str, Any]) -> list[str]:
    lines = [f"system: {request['system']}"] if isinstance(request.get("system"), str) else []
    for m in request.get("messages") or []:
        if isinstance(m, dict):
            lines.append(f"{m.get('role')}: {m.get('content')}")
    return lines


def _ask_verdict(item: dict[str, Any]) -> str | None:
    allowed = allowed_labels(item)
    choices = "[1] first / [2] second / [t]ie" if "tie" in allowed else "[p]ass / [f]ail"
    while True:
        raw = _input(f"your verdict {choices}, [s]kip, [q]uit: ")
        if raw is None or raw.strip().lower() in ("q", "quit"):
            return None
        answer = raw.strip().lower()
        if answer in ("s", "skip"):
            return "skip"
        verdict = KEYS.get(answer, answer)
        if verdict in allowed:
            return verdict
        print(f"  please answer one of: {', '.join(allowed)}")


def _input(prompt: str) -> str | None:
    try:
        return input(prompt)
    except EOFError:
        return None


def _label(item: dict[str, Any], verdict: str, reviewer: str, note: str, at: str = "") -> Label:
    return Label(
        scorer=item["scorer"],
        item=item["item"],
        judge=item.get("judge", ""),
        judge_label=item["verdict"]["label"],
        reviewer=reviewer,
        at=at or datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        label=verdict,
        note=note,
    )


def _import(config: Config, queue_path: str, path: str, name: str | None) -> int:
    """Labels from a web tool, checked against the queue, appended to each scorer's file."""
    queue = {(i["item"]): i for i in load_queue(queue_path, name)}
    found: list[tuple[str, Label]] = []
    problems = []
    for number, doc in read_jsonl(path):
        where = f"line {number}"
        if not isinstance(doc, dict):
            problems.append(ConfigProblem(path, where, "must be a JSON object"))
            continue
        item = queue.get(doc.get("item"))
        reviewer, label = doc.get("reviewer"), doc.get("label")
        if item is None:
            problems.append(
                ConfigProblem(path, f"{where}: item", "not in the queue", repr(doc.get("item")))
            )
        elif label not in allowed_labels(item):
            message = f"must be one of {', '.join(allowed_labels(item))}"
            problems.append(ConfigProblem(path, f"{where}: label", message, repr(label)))
        elif not isinstance(reviewer, str) or not reviewer:
            problems.append(ConfigProblem(path, f"{where}: reviewer", "a non-empty string"))
        else:
            labels = _labels_path(config, item["scorer"])
            note, at = str(doc.get("note", "")), str(doc.get("at", ""))
            found.append((labels, _label(item, label, reviewer, note, at)))
    if problems:
        raise ReviewError(problems)
    for labels, label in found:
        append_label(labels, label)
    print(f"{len(found)} labels imported")
    return 0
