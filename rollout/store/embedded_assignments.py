"""Sticky assignments of the embedded store: in memory, journalled to `assignments.jsonl` under
the data directory so that a restart keeps every subject on its arm.

One journal line per put_arms / clear_arms (the proxy batches its writes: about one a second).
On open the journal is replayed, expired entries are dropped and the file is rewritten with only
what is still alive, so it never grows past one restart's worth of traffic. Expiry is wall-clock
time (it must survive the process). A torn last line (a crash mid-write) is skipped.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path
from typing import IO

import orjson

from rollout.errors import StoreError
from rollout.store.base import check_scope, ttl_ms
from rollout.store.embedded_files import reopen_if_deleted, run_io

log = logging.getLogger(__name__)
_SWEEP_EVERY = 10.0  # seconds between sweeps of expired entries

Scopes = dict[str, dict[str, tuple[str, float]]]  # scope -> subject -> (arm, expires at)


class FileAssignments:
    def __init__(self, root: Path) -> None:
        self._path = root / "assignments.jsonl"
        self._scopes: Scopes = _replay(self._path)
        self._rewrite()
        self._fh: IO[bytes] | None = open(self._path, "ab")  # noqa: SIM115 (closed by close())
        self._lock = asyncio.Lock()
        self._next_sweep = time.time() + _SWEEP_EVERY

    async def get_arms(self, scope: str, subjects: list[str]) -> dict[str, str]:
        check_scope(scope)
        known = self._scopes.get(scope)
        if not known:
            return {}
        now = time.time()
        out = {}
        for subject in subjects:
            hit = known.get(subject)
            if hit is not None and hit[1] > now:
                out[subject] = hit[0]
        return out

    async def put_arms(self, scope: str, arms: dict[str, str], ttl_seconds: float) -> None:
        check_scope(scope)
        now = time.time()
        until = now + ttl_ms(ttl_seconds) / 1000
        await self._journal({"put": scope, "arms": arms, "until": until})
        self._scopes.setdefault(scope, {}).update((s, (arm, until)) for s, arm in arms.items())
        if now >= self._next_sweep:
            self._sweep(now)

    async def clear_arms(self, scope: str) -> None:
        check_scope(scope)
        await self._journal({"clear": scope})
        self._scopes.pop(scope, None)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    async def _journal(self, record: dict[str, object]) -> None:
        line = orjson.dumps(record) + b"\n"
        async with self._lock:  # shielded: a cancelled caller must not tear a line
            await asyncio.shield(run_io("assignments.write", self._write, line))

    def _write(self, line: bytes) -> None:
        if self._fh is None:
            raise StoreError("the assignments journal is closed", op="assignments.write")
        self._fh = reopen_if_deleted(self._fh, self._path)
        self._fh.write(line)
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def _rewrite(self) -> None:
        """Keep only live entries: one put line per scope and expiry."""
        tmp = self._path.with_suffix(".jsonl.tmp")
        with open(tmp, "wb") as fh:
            for scope, known in self._scopes.items():
                by_until: dict[float, dict[str, str]] = {}
                for subject, (arm, until) in known.items():
                    by_until.setdefault(until, {})[subject] = arm
                for until, arms in by_until.items():
                    fh.write(orjson.dumps({"put": scope, "arms": arms, "until": until}) + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self._path)

    def _sweep(self, now: float) -> None:
        self._next_sweep = now + _SWEEP_EVERY
        for scope, known in list(self._scopes.items()):
            for subject in [s for s, (_, until) in known.items() if until <= now]:
                del known[subject]
            if not known:
                del self._scopes[scope]


def _replay(path: Path) -> Scopes:
    scopes: Scopes = {}
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return scopes
    now = time.time()
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            record = orjson.loads(raw)
            if "clear" in record:
                scopes.pop(record["clear"], None)
            elif record["until"] > now:
                known = scopes.setdefault(record["put"], {})
                known.update((s, (arm, record["until"])) for s, arm in record["arms"].items())
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            log.warning("%s:%d: skipping unreadable assignment record (torn write?)", path, number)
    return scopes
