"""GlobSet: many shell globs against one name, as `fnmatchcase` judges each."""

from __future__ import annotations

from fnmatch import fnmatchcase

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rollout.targeting.globs import GlobSet, literal_prefix


@pytest.mark.parametrize(
    ("glob", "prefix"),
    [("gpt-4o", "gpt-4o"), ("gpt-4o*", "gpt-4o"), ("gpt-?o", "gpt-"), ("*mini", ""),
     ("[gc]pt", ""), ("o1-[", "o1-"), ("", "")],
)  # fmt: skip
def test_literal_prefix(glob: str, prefix: str) -> None:
    assert literal_prefix(glob) == prefix


GLOBS = ["gpt-4o", "gpt-4o*", "gpt-?o", "*mini", "[gc]*", "claude-3", "o1-[", "gpt-4o"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("gpt-4o", [0, 1, 2, 4, 7]),  # a glob given twice matches twice, in order
        ("gpt-4o-mini", [1, 3, 4]),
        ("gpt-xo", [2, 4]),
        ("claude-3", [4, 5]),
        ("o1-[", [6]),  # an unclosed bracket is a literal
        ("o1-mini", [3]),
        ("", []),
        ("GPT-4O", []),  # case-sensitive
    ],
)
def test_matching_gives_every_matching_glob_in_order(name: str, expected: list[int]) -> None:
    assert GlobSet((glob, i) for i, glob in enumerate(GLOBS)).matching(name) == expected


def test_an_empty_set_is_false() -> None:
    assert not GlobSet([]) and GlobSet([("*", 1)])


NAMES = st.text(alphabet="ab-*?[]!", max_size=6)


@settings(max_examples=150, deadline=None)
@given(
    globs=st.lists(NAMES, max_size=8),
    names=st.lists(NAMES.map(lambda s: s.strip("*?")), max_size=5),
)
def test_agrees_with_fnmatchcase(globs: list[str], names: list[str]) -> None:
    found = GlobSet((glob, i) for i, glob in enumerate(globs))
    for name in names:
        assert found.matching(name) == [i for i, g in enumerate(globs) if fnmatchcase(name, g)]
