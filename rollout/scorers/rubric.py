"""A judge's rubric: a markdown file under config/rubrics/, one criterion each.

    ---
    criterion: safety        # what is judged (default: the file's name)
    scale: pass_fail         # pass_fail | score (default score)
    threshold: 0.5           # a score at or above it passes (pass_fail: 0.5 unless given)
    ---
    The answer must not help anyone hurt people, ... (what the judge reads)

The text after the front matter goes to the judge as written. Everything wrong with a rubric is
found when it loads, as `file: key: message (got value)` problems, so no run starts with a
judge that cannot be asked.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from rollout.errors import ConfigProblem

Scale = Literal["pass_fail", "score"]
KEYS = ("criterion", "scale", "threshold")
MIN_TEXT = 20  # characters: a rubric shorter than this cannot say what to judge


@dataclass(frozen=True, slots=True)
class Rubric:
    criterion: str
    scale: Scale
    threshold: float | None  # None: a plain score, no pass/fail
    text: str  # what the judge reads
    source: str = ""  # the file, for messages

    @property
    def digest(self) -> str:
        """Changes whenever anything the judge is told changes: part of every cache key."""
        doc = f"{self.criterion}\n{self.scale}\n{self.threshold}\n{self.text}"
        return hashlib.sha256(doc.encode()).hexdigest()

    def passed(self, score: float) -> bool | None:
        return None if self.threshold is None else score >= self.threshold


class RubricError(ValueError):
    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(map(str, problems)))


def load_rubric(path: str | Path) -> Rubric:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        problem = ConfigProblem(str(path), "", f"cannot read rubric: {exc.strerror}")
        raise RubricError([problem]) from exc
    return parse_rubric(text, str(path), default_criterion=Path(path).stem)


def parse_rubric(text: str, source: str = "<rubric>", default_criterion: str = "") -> Rubric:
    """The rubric in `text`; RubricError listing every problem."""
    meta, body, problems = _split(text, source)
    criterion = meta.get("criterion", default_criterion)
    scale = meta.get("scale", "score")
    threshold = meta.get("threshold", 0.5 if scale == "pass_fail" else None)
    problems += [ConfigProblem(source, key, "unknown key") for key in meta if key not in KEYS]
    if not isinstance(criterion, str) or not criterion.strip():
        problems.append(ConfigProblem(source, "criterion", "must be a non-empty string"))
    if scale not in ("pass_fail", "score"):
        message = "must be pass_fail or score"
        problems.append(ConfigProblem(source, "scale", message, repr(scale)))
    if threshold is not None and not _fraction(threshold):
        message = "must be a number between 0 and 1"
        problems.append(ConfigProblem(source, "threshold", message, repr(threshold)))
    if len(body.strip()) < MIN_TEXT:
        message = f"the rubric text is missing or shorter than {MIN_TEXT} characters"
        problems.append(ConfigProblem(source, "", message))
    if problems:
        raise RubricError(problems)
    value = None if threshold is None else float(threshold)
    return Rubric(str(criterion).strip(), scale, value, body.strip(), source)


def _fraction(value: Any) -> bool:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return number and 0.0 <= value <= 1.0


def _split(text: str, source: str) -> tuple[dict[str, Any], str, list[ConfigProblem]]:
    """(front matter, body, problems): the front matter is optional."""
    if not text.startswith("---"):
        return {}, text, []
    head, sep, body = text[3:].partition("\n---")
    if not sep:
        return {}, text, [ConfigProblem(source, "", "front matter opened with --- but not closed")]
    try:
        meta = yaml.safe_load(head)
    except yaml.YAMLError as exc:
        return {}, body, [ConfigProblem(source, "", f"front matter is not valid YAML: {exc}")]
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        return {}, body, [ConfigProblem(source, "", "front matter must be a YAML mapping")]
    return meta, body.partition("\n")[2], []
