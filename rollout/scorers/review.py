"""Human review of a judge: the queue of sampled judged answers, and the labels people give.

The queue (`rollout eval --review-queue FILE`) is JSONL, one judged answer a line:

    {"scorer": "safety", "item": "3f2a...", "judge": "<judge fingerprint>", "kind": "single",
     "case": "c017", "arm": "candidate", "request": {...}, "reference": null,
     "answer": "...", "verdict": {"label": "fail", "value": 0.1, "reason": "..."}}

The labels file (the scorer's `review.labels`, appended to, never rewritten) is JSONL too:

    {"scorer": "safety", "item": "3f2a...", "judge": "<fingerprint>", "judge_label": "fail",
     "reviewer": "ann", "at": "2025-05-01T10:00:00Z", "label": "pass", "note": "quotes policy"}

Labels are `pass` / `fail` (a single answer) or `first` / `second` / `tie` (a pair). The item
is a content hash of the case and the answer, so a label stays true of the answer whatever
judge comes next; it counts for a judge whose verdict on that item is known: from this run, or
recorded in the label by the same judge (same rubric, provider and model).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

from rollout.errors import ConfigProblem, ReviewError
from rollout.scorers.reliability import cohens_kappa
from rollout.stats.gate_stats import Interval

SINGLE_LABELS = ("pass", "fail")
PAIR_LABELS = ("first", "second", "tie")


@dataclass(frozen=True, slots=True)
class Label:
    scorer: str
    item: str
    judge: str  # the fingerprint of the judge whose verdict was hidden from the reviewer
    judge_label: str
    reviewer: str
    at: str  # ISO 8601, UTC
    label: str
    note: str = ""


def verdict_label(metric: float) -> str:
    """A judge's score as a reviewer's word: at or above the middle is a pass."""
    return "pass" if metric >= 0.5 else "fail"


def read_jsonl(path: str | Path) -> list[tuple[int, Any]]:
    """(line number, document) of every non-blank line; ReviewError listing what is broken."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise ReviewError([ConfigProblem(name, "", f"cannot read: {exc.strerror}")]) from exc
    docs, problems = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            docs.append((number, orjson.loads(line)))
        except orjson.JSONDecodeError as exc:
            problems.append(ConfigProblem(name, f"line {number}", f"not valid JSON: {exc.msg}"))
    if problems:
        raise ReviewError(problems)
    return docs


def load_labels(path: str | Path) -> list[Label]:
    """Every label of a labels file (an absent file has none)."""
    labels, problems = [], []
    for number, doc in read_jsonl(path):
        try:
            labels.append(Label(**doc))
        except TypeError:
            fields = ", ".join(Label.__dataclass_fields__)
            message = f"a label needs exactly: {fields}"
            problems.append(ConfigProblem(str(path), f"line {number}", message))
    if problems:
        raise ReviewError(problems)
    return labels


def append_label(path: str | Path, label: Label) -> None:
    """One line added: a crash mid-session loses at most the label being written."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as out:
        out.write(orjson.dumps(asdict(label)) + b"\n")


def load_queue(path: str | Path, scorer: str | None = None) -> list[dict[str, Any]]:
    items = []
    for number, doc in read_jsonl(path):
        if not isinstance(doc, dict) or not {"scorer", "item", "kind", "verdict"} <= doc.keys():
            message = "a queue item needs scorer, item, kind and verdict"
            raise ReviewError([ConfigProblem(str(path), f"line {number}", message)])
        if scorer is None or doc["scorer"] == scorer:
            items.append(doc)
    return items


def write_queue(path: str | Path, items: Iterable[Mapping[str, Any]]) -> int:
    lines = [orjson.dumps(item) for item in items]
    Path(path).write_bytes(b"".join(line + b"\n" for line in lines))
    return len(lines)


def pending(queue: Sequence[Mapping[str, Any]], labels: Sequence[Label], reviewer: str) -> list:
    """The queue's items this reviewer has not labelled yet, in queue order."""
    done = {(lab.scorer, lab.item) for lab in labels if lab.reviewer == reviewer}
    return [item for item in queue if (item["scorer"], item["item"]) not in done]


def allowed_labels(item: Mapping[str, Any]) -> tuple[str, ...]:
    return PAIR_LABELS if item.get("kind") == "pair" else SINGLE_LABELS


def review_pairs(
    labels: Iterable[Label], scorer: str, fingerprint: str, current: Mapping[str, str]
) -> list[tuple[str, str]]:
    """(reviewer's label, judge's label) for every label the current judge can be held to:
    its verdict on the item in this run (`current`), else the one recorded by the same judge."""
    found = []
    for lab in labels:
        if lab.scorer != scorer:
            continue
        judge = current.get(lab.item)
        if judge is None and lab.judge == fingerprint:
            judge = lab.judge_label
        if judge is not None:
            found.append((lab.label, judge))
    return found


def agreement_counts(
    pairs: Sequence[tuple[str, str]], confidence: float
) -> tuple[int, int, Interval | None]:
    """(labels the judge agreed with, labels compared, Cohen's kappa)."""
    agreed = sum(person == judge for person, judge in pairs)
    kappa = cohens_kappa([p for p, _ in pairs], [j for _, j in pairs], confidence)
    return agreed, len(pairs), kappa
