"""Body conditions (`body: {metadata.tier: free}`) of many rules, looked up in one walk of the
request body.

The configured dotted paths form a tree; a request's body is walked along the branches present
in both. At each level the walk goes over the smaller side: the configured keys (looked up in
the body) or the body's keys (looked up in the tree), so a thousand rules on a thousand
different fields cost a request about as much as its own few fields. At the end of a path, the
value is compared as a `body` condition compares it: through JSON objects only, a string or
number, typed (`typed_key`: 1 == 1.0, 1 != "1", 1 != true).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Generic, TypeVar

from rollout.targeting.matching import typed_key

T = TypeVar("T")


class BodyTree(Generic[T]):
    __slots__ = ("_children", "_values")

    def __init__(self) -> None:
        self._children: dict[str, BodyTree[T]] = {}
        self._values: dict[Any, list[T]] = {}  # typed value at this path -> items

    def __bool__(self) -> bool:
        return bool(self._children)

    def add(self, path: Sequence[str], values: Iterable[Any], item: T) -> None:
        """File `item` under each typed value (`typed_key`) at the dotted `path`'s parts."""
        node = self
        for part in path:
            node = node._children.setdefault(part, BodyTree())
        for value in values:
            node._values.setdefault(value, []).append(item)

    def find(self, body: Any, found: list[T]) -> None:
        """Append the items whose path holds one of their values in `body`."""
        if not isinstance(body, dict):
            return
        children = self._children
        if len(children) <= len(body):
            for key, child in children.items():
                if key in body:
                    child._find_at(body[key], found)
        else:
            for key, value in body.items():
                child = children.get(key)
                if child is not None:
                    child._find_at(value, found)

    def _find_at(self, value: Any, found: list[T]) -> None:
        if self._values and isinstance(value, str | int | float):
            items = self._values.get(typed_key(value))
            if items:
                found += items
        if self._children:
            self.find(value, found)
