"""Loading a JSONL eval dataset: the cases in order, the digest, and every problem at once."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import orjson
import pytest

from rollout.errors import DatasetError, RolloutError
from rollout.eval.dataset import Case, case_line, infer_api, load_dataset

ROOT = Path(__file__).resolve().parents[3]
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Where is my order?"}]}
RESPONSES = {"model": "gpt-4o-mini", "input": "Where is my order?"}
ANTHROPIC = {"model": "claude-haiku-4-5", "max_tokens": 256, "system": "Be brief.", "messages": []}
ANTHROPIC["messages"] = CHAT["messages"]


def line(**fields: Any) -> str:
    return orjson.dumps(fields).decode()


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(DatasetError) as caught:
        load_dataset(path)
    return str(caught.value).splitlines()


def test_loads_cases_in_file_order_with_digest_and_path(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        line(id="b", request=CHAT, tags=["billing"], expect={"contains": "order"}),
        "",
        "   ",
        line(id="a", request=RESPONSES, reference="It ships tomorrow."),
        line(id="c", request=ANTHROPIC, api="anthropic.messages"),
    )
    dataset = load_dataset(path)
    assert [c.id for c in dataset] == ["b", "a", "c"]
    assert len(dataset) == 3
    assert dataset.path == path
    assert dataset.digest == hashlib.sha256(path.read_bytes()).hexdigest()
    first, second, third = dataset.cases
    assert first == Case(
        id="b",
        api="openai.chat",
        request=CHAT,
        tags=("billing",),
        reference=None,
        expect=first.expect,
        line=1,
    )
    assert first.expect is not None and first.expect.contains == ("order",)
    assert (second.api, second.reference, second.expect, second.line) == (
        "openai.responses",
        "It ships tomorrow.",
        None,
        4,
    )
    assert (third.api, third.tags, third.line) == ("anthropic.messages", (), 5)


def test_the_digest_changes_with_any_byte(tmp_path: Path) -> None:
    one = load_dataset(write(tmp_path, line(id="a", request=CHAT))).digest
    two = load_dataset(write(tmp_path, line(id="a", request=CHAT) + " ")).digest
    assert one != two


@pytest.mark.parametrize(
    ("request_body", "api"),
    [
        (RESPONSES, "openai.responses"),
        ({**RESPONSES, "system": "x"}, "openai.responses"),  # `input` decides first
        (ANTHROPIC, "anthropic.messages"),
        (CHAT, "openai.chat"),
        ({**CHAT, "messages": [{"role": "system", "content": "s"}]}, "openai.chat"),
    ],
)
def test_api_inference(request_body: dict[str, Any], api: str) -> None:
    assert infer_api(request_body) == api


def test_an_explicit_api_wins_over_inference(tmp_path: Path) -> None:
    no_system = {k: v for k, v in ANTHROPIC.items() if k != "system"}
    path = write(tmp_path, line(id="a", request=no_system, api="anthropic.messages"))
    assert load_dataset(path).cases[0].api == "anthropic.messages"


F = "cases.jsonl"  # the file name every message starts with (relative to tmp_path below)
MALFORMED: list[tuple[str, str]] = [
    ("not json", "line 1: not valid JSON: invalid literal, expected 'null' (column 1)"),
    ('{"id": "a",', "line 1: not valid JSON: unexpected end of data (column 12)"),
    ("[1, 2]", "line 1: must be a JSON object (got [1,2])"),
    (line(request=CHAT), "line 1: id: required key is missing"),
    (line(id="", request=CHAT), 'line 1: id: may not be empty (got "")'),
    (line(id=7, request=CHAT), "line 1: id: must be a string (got 7)"),
    (line(id="a"), "line 1: request: required key is missing"),
    (line(id="a", request="hi"), 'line 1: request: must be an object (got "hi")'),
    (line(id="a", request=CHAT, extra=1), "line 1: extra: unknown key"),
    (
        line(id="a", request=CHAT, api="openai.completions"),
        "line 1: api: must be one of openai.chat, openai.responses, anthropic.messages"
        ' (got "openai.completions")',
    ),
    (line(id="a", request=CHAT, tags="billing"), 'line 1: tags: must be a list (got "billing")'),
    (line(id="a", request=CHAT, tags=["ok", ""]), 'line 1: tags[1]: may not be empty (got "")'),
    (line(id="a", request=CHAT, reference=3), "line 1: reference: must be a string (got 3)"),
    (
        line(id="a", request=CHAT, expect={"contain": "x"}),
        "line 1: expect.contain: unknown expectation kind (known: contains, not_contains, regex,"
        " equals, json_schema, tool_called, refused, max_output_tokens)",
    ),
    (
        line(id="a", request=CHAT, expect={"regex": "[a-"}),
        "line 1: expect.regex: invalid regular expression: unterminated character set at"
        ' position 0 (got "[a-")',
    ),
    (
        line(id="a", request=CHAT, expect={"json_schema": {"type": "text"}}),
        "line 1: expect.json_schema: invalid JSON schema: 'text' is not valid under any of the"
        ' given schemas (got {"type":"text"})',
    ),
    (
        line(id="a", request=CHAT, expect={"tool_called": {"arguments": {}}}),
        "line 1: expect.tool_called.name: required key is missing",
    ),
    (
        line(id="a", request=CHAT, expect={"refused": "no"}),
        'line 1: expect.refused: must be true or false (got "no")',
    ),
    (
        line(id="a", request=CHAT, expect={"max_output_tokens": 1.5}),
        "line 1: expect.max_output_tokens: must be an integer (got 1.5)",
    ),
    (
        line(id="a", request={"messages": CHAT["messages"]}),
        "line 1: request.model: required for openai.chat: the model's name",
    ),
    (
        line(id="a", request={"model": "m", "messages": []}),
        "line 1: request.messages: required for openai.chat: a non-empty list (got [])",
    ),
    (
        line(id="a", request={"model": "m"}, api="openai.responses"),
        "line 1: request.input: required for openai.responses",
    ),
    (
        line(id="a", request={**ANTHROPIC, "max_tokens": 0}),
        "line 1: request.max_tokens: required for anthropic.messages: an integer >= 1 (got 0)",
    ),
]


@pytest.mark.parametrize(("content", "message"), MALFORMED)
def test_each_malformed_line_says_file_line_and_what(
    tmp_path: Path, content: str, message: str
) -> None:
    path = write(tmp_path, content)
    assert problems(path) == [f"{path}: {message}"]


def test_every_problem_is_reported_at_once_with_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        line(id="a", request=CHAT),
        "oops",
        "",
        line(id="a", request=CHAT),
        line(id="b", request=CHAT, expect={"regex": "("}, tags=[1]),
    )
    found = problems(path)
    assert found == [
        f"{path}: line 2: not valid JSON: unexpected character, expected a JSON value (column 1)",
        f'{path}: line 4: id: duplicate id (first on line 1) (got "a")',
        f"{path}: line 5: tags[0]: must be a string (got 1)",
        f"{path}: line 5: expect.regex: invalid regular expression: missing ), unterminated"
        ' subpattern at position 0 (got "(")',
    ]


def test_file_level_problems(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    assert problems(missing) == [f"{missing}: cannot read file: No such file or directory"]
    empty = write(tmp_path, "", "  ")
    assert problems(empty) == [f"{empty}: has no cases"]
    binary = tmp_path / "latin1.jsonl"
    binary.write_bytes(b'{"id": "caf\xe9"}\n')
    assert problems(binary) == [f"{binary}: not UTF-8 (byte 11)"]


def test_dataset_error_is_a_rollout_error_with_the_problems(tmp_path: Path) -> None:
    path = write(tmp_path, "x", "y")
    with pytest.raises(RolloutError) as caught:
        load_dataset(path)
    assert isinstance(caught.value, DatasetError)
    assert [p.path for p in caught.value.problems] == ["line 1", "line 2"]


def test_case_line_reads_back_as_the_same_case(tmp_path: Path) -> None:
    text = case_line(
        CHAT, id="live-1", api="openai.chat", tags=["free-tier"], expect={"contains": "order"}
    )
    assert "\n" not in text
    assert orjson.loads(text) == {
        "id": "live-1",
        "api": "openai.chat",
        "tags": ["free-tier"],
        "request": CHAT,
        "expect": {"contains": "order"},
    }
    bare = case_line(RESPONSES, id="live-2", api="openai.responses", tags=())
    assert orjson.loads(bare) == {"id": "live-2", "api": "openai.responses", "request": RESPONSES}
    dataset = load_dataset(write(tmp_path, text, bare))
    assert [(c.id, c.api, c.tags, c.request) for c in dataset] == [
        ("live-1", "openai.chat", ("free-tier",), CHAT),
        ("live-2", "openai.responses", (), RESPONSES),
    ]


def test_case_line_refuses_an_unknown_api() -> None:
    with pytest.raises(ValueError, match="api must be one of"):
        case_line(CHAT, id="x", api="openai.embeddings", tags=[])  # type: ignore[arg-type]


def test_the_demo_eval_set_loads_small_and_tagged() -> None:
    path = ROOT / "config" / "evals" / "support-v2.jsonl"
    dataset = load_dataset(path)
    assert 180 <= len(dataset) <= 220
    assert path.stat().st_size < 100_000
    assert {c.api for c in dataset} == {"openai.chat"}
    assert {c.request["model"] for c in dataset} == {"gpt-4o-mini"}
    tags = {t for c in dataset for t in c.tags}
    assert {"billing", "account", "safety", "free-tier"} <= tags
    kinds = {k for c in dataset if c.expect is not None for k in c.expect.kinds()}
    assert {"contains", "not_contains", "regex", "tool_called", "json_schema"} <= kinds
