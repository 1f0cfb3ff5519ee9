"""Many shell globs matched against one name at once, without trying every glob.

Model conditions are shell globs (`fnmatchcase`: case-sensitive, `*`, `?`, `[...]`). Trying each
glob in turn costs about half a microsecond per glob; with hundreds of rules that is the largest
part of a request. A `GlobSet` sorts the globs once, when the config is loaded:

- a glob without wildcards is a name: one dict lookup finds every such glob equal to the name;
- a glob with wildcards has a literal prefix (what comes before its first wildcard, possibly
  empty); globs are grouped by the length and text of that prefix, so a name is only tested
  against the globs whose prefix it starts with (one slice and one dict lookup per distinct
  prefix length, of which a config has a handful).

A glob is compiled by `fnmatchcase` the first time it is tested (and cached there), so loading a
config with thousands of globs compiles none of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from fnmatch import fnmatchcase
from typing import Generic, TypeVar

T = TypeVar("T")

_WILDCARD = re.compile(r"[*?\[]")


def literal_prefix(glob: str) -> str:
    """The part of `glob` before its first wildcard (all of it when it has none)."""
    found = _WILDCARD.search(glob)
    return glob if found is None else glob[: found.start()]


def is_literal(glob: str) -> bool:
    return _WILDCARD.search(glob) is None


class GlobSet(Generic[T]):
    """Globs, each with a value; `matching(name)` gives the values of the globs that match, in
    the order they were given (a value given with several matching globs comes back once per
    glob: callers that care deduplicate)."""

    __slots__ = ("_by_prefix", "_exact", "_lengths")

    def __init__(self, globs: Iterable[tuple[str, T]]) -> None:
        self._exact: dict[str, list[tuple[int, T]]] = {}
        self._by_prefix: dict[int, dict[str, list[tuple[int, str, T]]]] = {}
        for order, (glob, value) in enumerate(globs):
            if is_literal(glob):
                self._exact.setdefault(glob, []).append((order, value))
                continue
            prefix = literal_prefix(glob)
            bucket = self._by_prefix.setdefault(len(prefix), {})
            bucket.setdefault(prefix, []).append((order, glob, value))
        self._lengths = tuple(sorted(self._by_prefix))

    def __bool__(self) -> bool:
        return bool(self._exact or self._by_prefix)

    def matching(self, name: str) -> list[T]:
        found: list[tuple[int, T]] = list(self._exact.get(name, ()))
        for length in self._lengths:
            if length > len(name):
                break
            for order, glob, value in self._by_prefix[length].get(name[:length], ()):
                if fnmatchcase(name, glob):
                    found.append((order, value))
        if len(found) > 1:
            found.sort(key=_order)
        return [value for _, value in found]


def _order(item: tuple[int, object]) -> int:
    return item[0]
