"""Keep the last known state documents in memory, and write them back when the store lost them.

`keep_states(store, actor)` wraps a store so that every read and write of a rollout's state
document (`rollout/<name>`) and of the flag overrides (`flags`) goes through a `StateKeeper`,
whatever reads it: the controller's looks, apply(), people's actions, a replica's refreshes.
The keeper remembers the last document it saw of each, with the store generation
(rollout/control/store_generation.py), and when the store lost its data since
(rollout/control/state_memory.py says what to do):

- it writes the known document back with a compare-and-set create (revision 0): of several
  processes racing, one wins, and the others read what it wrote. The winner appends one audit
  entry `state_restored`, publishes the change, counts it in llm_rollout_state_restored_total and
  logs a WARNING. The document is the whole known one (weight, max_weight, killed, epoch, the
  controller's phase and stage), so stickiness keeps its reach and scope;
- when a process knew a newer revision than the one another process wrote back, it writes its
  own over it (the newest known state wins);
- `lost(key, version)` says when nothing of the caller's version was known: the caller holds.

A rollback, a kill switch or a pause is thus never undone by missing data.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from rollout.control.live_state import FLAGS_KEY
from rollout.control.operations import publish_change
from rollout.control.state_memory import (
    Doc,
    Known,
    after_read,
    restored_doc,
    state_lost,
)
from rollout.control.state_metrics import STATE_RESTORED
from rollout.control.store_generation import store_generation
from rollout.store import Store
from rollout.store.base import Documents

log = logging.getLogger("llm_rollout.state")

_STATE_PREFIX = "rollout/"
_ATTEMPTS = 3


def kept(key: str) -> bool:
    """The documents a keeper remembers: rollout states and the flag overrides."""
    return key.startswith(_STATE_PREFIX) or key == FLAGS_KEY


class StateKeeper:
    """The store's Documents, remembering state documents and writing back lost ones."""

    def __init__(self, store: Store, actor: str) -> None:
        self._store, self._inner, self.actor = store, store.documents, actor
        self._known: dict[str, Known] = {}
        self._lost_version: dict[str, str | None] = {}  # the version known when the store lost it
        self._generation = ""  # the last seen

    async def read(self, key: str) -> tuple[Doc | None, int]:
        if not kept(key):
            return await self._inner.read(key)
        generation = await self._read_generation()
        doc, rev = await self._inner.read(key)
        if doc is None:  # lost between the two reads? Then the generation has changed by now
            generation = await self._read_generation()
        known = self._known.get(key)
        if known is not None and known.generation != generation:
            self._lost_version[key] = _version(known.doc)
        for _ in range(_ATTEMPTS if known is not None else 0):
            step = after_read(known, doc, rev, generation)
            if step == "keep":
                break
            doc, rev = await self._write_back(key, known, doc, rev, step)
        self._known[key] = Known(doc, rev, generation)
        return doc, rev

    async def write(self, key: str, doc: Doc, expected_rev: int) -> int | None:
        rev = await self._inner.write(key, doc, expected_rev)
        if rev is not None and kept(key) and self._generation:  # else: read first, then known
            self._known[key] = Known(dict(doc), rev, self._generation)
        return rev

    async def delete(self, key: str) -> None:
        await self._inner.delete(key)
        self._known.pop(key, None)

    def lost(self, key: str, version: str) -> bool:
        """True when the store lost the state of `key` and this process knew nothing of
        `version`: hold the rollout on the baseline until a person decides."""
        known = self._known.get(key)
        current = known.doc if known is not None else None
        return state_lost(self._lost_version.get(key), current, version)

    async def _read_generation(self) -> str:
        self._generation = await store_generation(self._inner)
        return self._generation

    async def _write_back(
        self, key: str, known: Known, doc: Doc | None, rev: int, step: str
    ) -> tuple[Doc | None, int]:
        """Write `known` back over (`doc`, `rev`); what the store holds afterwards."""
        new = restored_doc(known, rev + 1, self.actor, time.time())
        if await self._inner.write(key, new, rev) is None:  # another process came first
            return await self._inner.read(key)
        await self._record(key, known, step, new)
        return new, rev + 1

    async def _record(self, key: str, known: Known, step: str, new: Doc) -> None:
        rollout = key.removeprefix(_STATE_PREFIX) if key.startswith(_STATE_PREFIX) else ""
        STATE_RESTORED.labels(rollout).inc()
        why = (
            "the store lost its data: written back from what this process knew"
            if step == "restore"
            else "another process had written back an older state: the newer one known here"
        )
        log.warning(
            "state %s lost with the store's data; written back as of revision %d (%s)",
            key,
            known.rev,
            _summary(new),
        )
        entry: Doc = {
            "action": "state_restored",
            "actor": self.actor,
            "key": key,
            "reason": why,
            "from_rev": known.rev,
            "after": _summary(new),
        }
        if rollout:
            entry["rollout"] = rollout
        await self._store.audit.append(entry)
        await publish_change(self._store, key)


def _version(doc: Mapping[str, object] | None) -> str | None:
    version = doc.get("version") if doc is not None else None
    return version if isinstance(version, str) else None


def _summary(doc: Mapping[str, object]) -> dict[str, object]:
    fields = ("version", "weight", "max_weight", "killed", "epoch", "phase", "stage")
    present = {f: doc[f] for f in fields if f in doc}
    return present or {k: v for k, v in doc.items() if k != "restored"}


class KeptStore(Store):
    """A store whose documents go through a StateKeeper; every other part is the store's own."""

    def __init__(self, inner: Store, actor: str) -> None:
        self.inner = inner
        self.kind = inner.kind
        self.keeper = StateKeeper(inner, actor)
        self.documents: Documents = self.keeper
        self.assignments = inner.assignments
        self.metrics = inner.metrics
        self.subjects = inner.subjects
        self.audit = inner.audit
        self.pairs = inner.pairs
        self.leader = inner.leader
        self.notifications = inner.notifications

    async def ping(self) -> bool:
        return await self.inner.ping()

    async def close(self) -> None:
        await self.inner.close()


def keep_states(store: Store, actor: str) -> KeptStore:
    """`store` with a state keeper (itself when it has one already: one memory per process)."""
    return store if isinstance(store, KeptStore) else KeptStore(store, actor)
