"""Load an eval dataset: a JSONL file of cases, each the exact request an SDK would send.

Every line is checked before anything runs, and every problem is reported at once, with file,
line and key (`evals/support.jsonl: line 7: expect.regex: invalid regular expression: ...`), as
one DatasetError, so a run never starts on a half-valid dataset. docs/eval-dataset.md describes
the format.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import orjson
from pydantic import Field, StrictStr, ValidationError

from rollout.config.load import key_path
from rollout.config.strict import Strict
from rollout.errors import ConfigProblem, DatasetError
from rollout.eval.expect import KINDS, Expect

Api = Literal["openai.chat", "openai.responses", "anthropic.messages"]
APIS: tuple[str, ...] = get_args(Api)

# pydantic's wording, said the way a JSON file is written.
_MESSAGES = {
    "extra_forbidden": "unknown key",
    "missing": "required key is missing",
    "string_type": "must be a string",
    "string_too_short": "may not be empty",
    "bool_type": "must be true or false",
    "int_type": "must be an integer",
    "dict_type": "must be an object",
    "list_type": "must be a list",
    "literal_error": "must be one of " + ", ".join(APIS),
}


class _Line(Strict):
    """One line as written; `api` is inferred after validation when absent."""

    id: StrictStr = Field(min_length=1)
    request: dict[str, Any]
    api: Api | None = None
    tags: list[Annotated[StrictStr, Field(min_length=1)]] = Field(default_factory=list)
    reference: StrictStr | None = None
    expect: Expect | None = None


@dataclass(frozen=True, slots=True)
class Case:
    """One case: the request to send to both arms, and what its answers are checked against."""

    id: str
    api: Api
    request: dict[str, Any]
    tags: tuple[str, ...] = ()
    reference: str | None = None
    expect: Expect | None = None
    line: int = 0  # where it is in the file, for reports


@dataclass(frozen=True, slots=True)
class Dataset:
    cases: tuple[Case, ...]  # in file order
    digest: str  # hex sha256 of the file's bytes: which dataset a result was run on
    path: Path

    def __len__(self) -> int:
        return len(self.cases)

    def __iter__(self) -> Iterator[Case]:
        return iter(self.cases)


def infer_api(request: dict[str, Any]) -> Api:
    """`input` -> Responses, a top-level `system` -> Anthropic messages, else chat completions.

    An Anthropic request without a system prompt looks like a chat one: give such cases `api`."""
    if "input" in request:
        return "openai.responses"
    if "system" in request:
        return "anthropic.messages"
    return "openai.chat"


def load_dataset(path: str | os.PathLike[str]) -> Dataset:
    """Read and validate every case of `path`; raise DatasetError listing every problem."""
    name = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise DatasetError([ConfigProblem(name, "", f"cannot read file: {exc.strerror}")]) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        problem = ConfigProblem(name, "", f"not UTF-8 (byte {exc.start})")
        raise DatasetError([problem]) from exc
    cases, problems = _parse(text, name)
    if not cases and not problems:
        problems.append(ConfigProblem(name, "", "has no cases"))
    if problems:
        raise DatasetError(problems)
    return Dataset(tuple(cases), hashlib.sha256(raw).hexdigest(), Path(path))


def case_line(
    request: dict[str, Any],
    *,
    id: str,
    api: Api,
    tags: list[str] | tuple[str, ...],
    expect: dict[str, Any] | None = None,
) -> str:
    """One dataset line (without its newline) that `load_dataset` reads back as this case."""
    if api not in APIS:
        raise ValueError(f"api must be one of {', '.join(APIS)} (got {api!r})")
    line: dict[str, Any] = {"id": id, "api": api}
    if tags:
        line["tags"] = list(tags)
    line["request"] = request
    if expect is not None:
        line["expect"] = expect
    return orjson.dumps(line).decode()


def _parse(text: str, name: str) -> tuple[list[Case], list[ConfigProblem]]:
    cases: list[Case] = []
    problems: list[ConfigProblem] = []
    first_line: dict[str, int] = {}
    for number, content in enumerate(text.splitlines(), start=1):
        if not content.strip():
            continue  # blank lines separate groups of cases; JSONL has no comments
        case, found = _case(content, name, number)
        problems += found
        if case is None:
            continue
        if case.id in first_line:
            where = f"line {number}: id"
            message = f"duplicate id (first on line {first_line[case.id]})"
            problems.append(ConfigProblem(name, where, message, _show(case.id)))
            continue
        first_line[case.id] = number
        cases.append(case)
    return cases, problems


def _case(content: str, name: str, number: int) -> tuple[Case | None, list[ConfigProblem]]:
    where = f"line {number}"
    try:
        data = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        message = f"not valid JSON: {exc.msg} (column {exc.colno})"
        return None, [ConfigProblem(name, where, message)]
    if not isinstance(data, dict):
        return None, [ConfigProblem(name, where, "must be a JSON object", _show(data))]
    try:
        line = _Line.model_validate(data)
    except ValidationError as exc:
        return None, [_problem(name, number, err) for err in exc.errors()]
    api = line.api or infer_api(line.request)
    found = [
        ConfigProblem(name, f"{where}: request.{key}", message, value)
        for key, message, value in _request_problems(api, line.request)
    ]
    if found:
        return None, found
    case = Case(
        id=line.id,
        api=api,
        request=line.request,
        tags=tuple(line.tags),
        reference=line.reference,
        expect=line.expect,
        line=number,
    )
    return case, []


def _request_problems(api: Api, request: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """The few keys without which the API would refuse the request: (key, message, value)."""
    found: list[tuple[str, str, str | None]] = []
    model = request.get("model")
    if not isinstance(model, str) or not model:
        found.append(("model", f"required for {api}: the model's name", _present(request, "model")))
    if api == "openai.responses":
        if "input" not in request:
            found.append(("input", f"required for {api}", None))
        return found
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages:
        message = f"required for {api}: a non-empty list"
        found.append(("messages", message, _present(request, "messages")))
    if api == "anthropic.messages":
        tokens = request.get("max_tokens")
        if not isinstance(tokens, int) or isinstance(tokens, bool) or tokens < 1:
            message = f"required for {api}: an integer >= 1"
            found.append(("max_tokens", message, _present(request, "max_tokens")))
    return found


def _present(request: dict[str, Any], key: str) -> str | None:
    return _show(request[key]) if key in request else None


def _problem(name: str, number: int, err: Any) -> ConfigProblem:
    loc = tuple(err["loc"])
    if err["type"] == "extra_forbidden" and loc[:1] == ("expect",) and len(loc) == 2:
        message = "unknown expectation kind (known: " + ", ".join(KINDS) + ")"
    else:
        message = _MESSAGES.get(err["type"]) or err["msg"].removeprefix("Value error, ")
    value = None if err["type"] in ("missing", "extra_forbidden") else _show(err.get("input"))
    where = f"line {number}: {key_path(loc)}" if loc else f"line {number}"
    return ConfigProblem(name, where, message, value)


def _show(value: Any) -> str:
    """A value as it is written in the file, shortened."""
    try:
        text = orjson.dumps(value).decode()
    except TypeError:
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
