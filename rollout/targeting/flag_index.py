"""Which flags could match a request, found by lookups instead of by judging every flag.

Each flag is filed once, when the config is loaded, under one condition of its `when` that
compares a request fact with listed values: its key. A request looks up its own facts (each
read once) and gets the flags whose key holds; only those are judged on the rest of their
conditions (`rest`, compiled from the flag's `when` without the key: percentages, `tools`,
`max_tokens_over` and other conditions that are no lookup come last there, as in every
predicate). A flag not found cannot match: its key condition fails. So the flags that match are
exactly those a linear pass would find, and they come back in config order.

The key, chosen in this order (the most selective first), and what a request reads for it:

- `subjects`: subject -> flags; the subject.
- `headers`: header -> value -> flags; each header some flag names, or each header of the
  request when flags name more headers than it carries.
- `body`: a tree of paths -> typed value -> flags (rollout/targeting/body_tree.py); the body,
  along the configured paths present in it.
- `models`: globs (rollout/targeting/globs.py) -> flags, remembered per model; the model.
- `routes`, `apis`: prefix / API -> flags; the route prefix / the API.

Flags with none of these (only `percent`, `tools`, `max_tokens_over`, or no condition) are
judged on every request, in a short list of their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, TypeAlias

from rollout.config.flags import Flag, Match
from rollout.targeting.body_tree import BodyTree
from rollout.targeting.globs import GlobSet
from rollout.targeting.matching import (
    Predicate,
    Share,
    compile_match,
    header_text,
    listed,
    typed_key,
)
from rollout.targeting.request_facts import RequestFacts

# (config position, flag, its other conditions): tuples sort by position, which is unique.
Entry: TypeAlias = tuple[int, Any, Predicate]
Entries: TypeAlias = list[Entry]

MEMO_SIZE = 1024  # models remembered by the model key (the client names the model)


class IndexedFlag(Protocol):
    """What the index reads of a compiled flag (rollout/targeting/flags.py)."""

    @property
    def config(self) -> Flag: ...

    @property
    def share(self) -> Share: ...

    @property
    def salt(self) -> str: ...


class FlagIndex:
    def __init__(self, flags: Sequence[IndexedFlag]) -> None:
        """`flags` in config order."""
        self._always: Entries = []
        self._subjects: dict[str, Entries] = {}
        self._headers: dict[str, dict[str, Entries]] = {}
        self._body = BodyTree()
        model_globs: list[tuple[str, Entry]] = []
        self._routes: dict[str, Entries] = {}
        self._apis: dict[str, Entries] = {}
        for position, flag in enumerate(flags):
            key, rest = _split(flag.config.when)
            entry: Entry = (position, flag, compile_match(rest, flag.salt, flag.share))
            if key == "models":
                models = dict.fromkeys(flag.config.when.models or ())
                model_globs.extend((glob, entry) for glob in models)
            else:
                self._file(key, flag.config.when, entry)
        self._model_globs = GlobSet(model_globs)
        self._model_memo: dict[str, Entries] = {}

    def _file(self, key: str | tuple[str, str] | None, when: Match, entry: Entry) -> None:
        """File `entry` under the values its key condition accepts."""
        if key is None:
            self._always.append(entry)
        elif key == "subjects":
            _add_under(self._subjects, when.subjects or (), entry)
        elif key == "routes":
            _add_under(self._routes, {p.rstrip("/") or "/" for p in when.routes or ()}, entry)
        elif key == "apis":
            _add_under(self._apis, when.apis or (), entry)
        elif key[0] == "headers":
            by_value = self._headers.setdefault(key[1].lower(), {})
            _add_under(by_value, {header_text(v) for v in listed(when.headers[key[1]])}, entry)
        else:
            values = {typed_key(v) for v in listed(when.body[key[1]])}
            self._body.add(key[1].split("."), values, entry)

    def candidates(self, facts: RequestFacts) -> Entries:
        """The flags whose key holds for `facts`, with the always-judged ones, in config order."""
        found = list(self._always)
        if self._subjects:
            subject = facts.subject
            if subject is not None:
                found += self._subjects.get(subject, ())
        if self._headers:
            self._find_headers(facts.headers, found)
        if self._body:
            self._body.find(facts.payload, found)
        if self._model_globs:
            model = facts.model
            if model is not None:
                found += self._by_model(model)
        if self._routes:
            found += self._routes.get(facts.route_prefix, ())
        if self._apis:
            api = facts.api
            if api is not None:
                found += self._apis.get(api, ())
        if len(found) > 1:
            found.sort(key=_position)
        return found

    def _find_headers(self, headers: Mapping[str, str], found: Entries) -> None:
        by_name = self._headers
        if len(by_name) <= 2 * len(headers):
            for name, by_value in by_name.items():
                value = headers.get(name)
                if value is not None:
                    found += by_value.get(value, ())
            return
        # More headers configured than the request has: walk the request's instead.
        seen: set[str] | None = None
        for name in headers:
            key = name.lower()
            by_value = by_name.get(key)
            if by_value is None:
                continue
            seen = seen if seen is not None else set()
            if key in seen:  # a repeated header: its first value counts, as in get()
                continue
            seen.add(key)
            value = headers.get(key)
            if value is not None:
                found += by_value.get(value, ())

    def _by_model(self, model: str) -> Entries:
        memo = self._model_memo
        entries = memo.get(model)
        if entries is None:
            entries = list({id(e): e for e in self._model_globs.matching(model)}.values())
            if len(memo) >= MEMO_SIZE:
                memo.clear()
            memo[model] = entries
        return entries


def _position(entry: Entry) -> int:
    return entry[0]


def _add_under(index: dict[Any, Entries], keys: Any, entry: Entry) -> None:
    for key in dict.fromkeys(keys):  # a value listed twice files the flag once
        index.setdefault(key, []).append(entry)


def _split(when: Match) -> tuple[str | tuple[str, str] | None, Match]:
    """The key condition of `when` (None: none) and `when` without it."""
    if when.subjects is not None:
        return "subjects", when.model_copy(update={"subjects": None})
    for name in when.headers:
        if name.lower().isascii():  # request header names are ASCII: lower() is exact there
            rest = {n: v for n, v in when.headers.items() if n != name}
            return ("headers", name), when.model_copy(update={"headers": rest})
    for path in when.body:
        rest = {p: v for p, v in when.body.items() if p != path}
        return ("body", path), when.model_copy(update={"body": rest})
    for key in ("models", "routes", "apis"):
        if getattr(when, key) is not None:
            return key, when.model_copy(update={key: None})
    return None, when
