"""BodyTree: body conditions of many rules found in one walk of the request body."""

from __future__ import annotations

from typing import Any

import pytest

from rollout.targeting.body_tree import BodyTree
from rollout.targeting.matching import typed_key


def tree(*rules: tuple[str, list[Any], str]) -> BodyTree[str]:
    found: BodyTree[str] = BodyTree()
    for path, values, name in rules:
        found.add(path.split("."), [typed_key(v) for v in values], name)
    return found


RULES = [
    ("tier", ["free", 1], "tier"),
    ("metadata.tier", ["free"], "meta-tier"),
    ("metadata", ["x"], "meta"),
    ("a.b.c", [True], "abc"),
]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"tier": "free"}, ["tier"]),
        ({"tier": 1.0}, ["tier"]),  # 1 == 1.0, as JSON says
        ({"tier": True}, []),  # true is not 1
        ({"tier": "1"}, []),
        ({"metadata": {"tier": "free"}}, ["meta-tier"]),
        ({"metadata": "x"}, ["meta"]),
        ({"metadata": "free"}, []),  # through objects only
        ({"a": {"b": {"c": True}}, "tier": "free"}, ["abc", "tier"]),
        ({"a": {"b": [{"c": True}]}}, []),
        ({"tier": None, "metadata": None}, []),
        (None, []),
    ],
)
def test_find(body: Any, expected: list[str]) -> None:
    found: list[str] = []
    tree(*RULES).find(body, found)
    assert sorted(found) == sorted(expected)


def test_more_configured_fields_than_the_body_has_walks_the_body() -> None:
    rules = [(f"f{i}", ["on"], f"rule-{i}") for i in range(100)]
    found: list[str] = []
    tree(*rules).find({"f7": "on", "f8": "off", "model": "m"}, found)
    assert found == ["rule-7"]
    assert not BodyTree() and tree(*rules)
