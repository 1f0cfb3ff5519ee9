"""The embedded store's persistent parts: documents and the audit log, as files in a data dir.

Layout under the data directory:

    documents/<key>.json   {"rev": n, "doc": {...}}; <key> percent-encoded (sha256 when long);
                           written to a temp file, fsynced, then os.replace()d over the old one
    audit.jsonl            one JSON object per line, {"id": ..., "ts": ..., ...}; each append is
                           flushed and fsynced before it returns

The data directory deleted under a running process (by hand, a cleanup job, a volume swapped)
is noticed at the next document read or write: it is made again, empty, and the documents held
in memory are dropped, so that the store says what it holds (nothing) and the processes that
knew a state write it back (rollout/control/state_keeper.py). The audit log and the sticky
assignments' journal start new files there at their next append.

A crash can leave a torn last audit line (skipped with a warning when read back) or a stray temp
file in documents/ (removed when the store opens); it cannot leave a half-written document.
Disk I/O runs in worker threads so the event loop never waits on fsync.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import IO, TypeVar
from urllib.parse import quote

import orjson

from rollout.errors import StoreError
from rollout.store.base import Doc, check_entry

log = logging.getLogger(__name__)

_TMP_SUFFIX = ".tmp"
T = TypeVar("T")


class FileDocuments:
    """Documents with compare-and-set, cached in memory (this process is the only writer)."""

    def __init__(self, root: Path) -> None:
        self._dir = root / "documents"
        self._dir.mkdir(parents=True, exist_ok=True)
        for stray in self._dir.glob(f".*{_TMP_SUFFIX}"):
            stray.unlink(missing_ok=True)
        self._cache: dict[str, tuple[bytes | None, int]] = {}
        self._lock = asyncio.Lock()

    async def read(self, key: str) -> tuple[Doc | None, int]:
        self._check_dir()
        entry = self._cache.get(key)
        if entry is None:
            async with self._lock:
                entry = await self._current(key)
        raw, rev = entry
        return (None if raw is None else orjson.loads(raw)), rev

    async def write(self, key: str, doc: Doc, expected_rev: int) -> int | None:
        raw = orjson.dumps(doc)
        # Shielded: a caller cancelled mid-write must not leave the cache and the file apart.
        return await asyncio.shield(self._write(key, raw, expected_rev))

    async def _write(self, key: str, raw: bytes, expected_rev: int) -> int | None:
        async with self._lock:
            self._check_dir()
            _, rev = await self._current(key)
            if rev != expected_rev:
                return None
            data = b'{"rev":%d,"doc":%s}' % (rev + 1, raw)
            await run_io("documents.write", self._replace, self._path(key), data)
            self._cache[key] = (raw, rev + 1)
            return rev + 1

    async def delete(self, key: str) -> None:
        await asyncio.shield(self._delete(key))

    async def _delete(self, key: str) -> None:
        async with self._lock:
            await run_io("documents.delete", self._unlink, self._path(key))
            self._cache[key] = (None, 0)

    def _check_dir(self) -> None:
        """Start afresh when the directory was deleted: what it held is lost (one stat call)."""
        if self._dir.is_dir():
            return
        log.warning("data directory %s vanished: made again, its documents are lost", self._dir)
        try:
            self._dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot make {self._dir} again: {exc}", op="documents.read") from exc
        self._cache.clear()

    async def _current(self, key: str) -> tuple[bytes | None, int]:
        """The cached entry, loading it from disk first if needed; call with the lock held."""
        entry = self._cache.get(key)
        if entry is None:
            entry = await run_io("documents.read", self._load, self._path(key))
            self._cache[key] = entry
        return entry

    def _path(self, key: str) -> Path:
        name = quote(key, safe="")
        if len(name) > 200:
            name = "sha256-" + hashlib.sha256(key.encode()).hexdigest()
        return self._dir / f"{name}.json"

    @staticmethod
    def _load(path: Path) -> tuple[bytes | None, int]:
        try:
            data = orjson.loads(path.read_bytes())
        except FileNotFoundError:
            return None, 0
        except orjson.JSONDecodeError as exc:
            raise StoreError(f"corrupt document file {path}: {exc}", op="documents.read") from exc
        return orjson.dumps(data["doc"]), int(data["rev"])

    def _replace(self, path: Path, data: bytes) -> None:
        tmp = path.with_name(f".{path.name}.{os.getpid()}{_TMP_SUFFIX}")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        self._sync_dir()

    def _unlink(self, path: Path) -> None:
        try:
            path.unlink()
        except FileNotFoundError:
            return
        self._sync_dir()

    def _sync_dir(self) -> None:
        fd = os.open(self._dir, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class FileAuditLog:
    """Append-only JSONL file; the newest `keep` entries are also kept in memory for reads."""

    def __init__(self, root: Path, *, keep: int = 100_000) -> None:
        self._path = root / "audit.jsonl"
        self._recent: deque[tuple[object, bytes]] = deque(maxlen=keep)
        self._last = (0, -1)
        self._torn_tail = self._load()
        self._fh: IO[bytes] | None = open(self._path, "ab")  # noqa: SIM115 (closed by close())
        self._lock = asyncio.Lock()

    async def append(self, entry: Doc) -> str:
        check_entry(entry)
        if "ts" not in entry:
            entry = {**entry, "ts": time.time()}
        payload = orjson.dumps(entry)  # fails here, before an id is spent, if not JSON
        # Shielded: a caller cancelled mid-append must not leave memory and the file apart.
        return await asyncio.shield(self._append(entry.get("rollout"), payload))

    async def _append(self, rollout: object, payload: bytes) -> str:
        async with self._lock:
            entry_id = self._next_id()
            line = orjson.dumps({"id": entry_id, **orjson.loads(payload)}) + b"\n"
            if self._torn_tail:
                line = b"\n" + line
            try:
                await run_io("audit.append", self._write_line, line)
            except StoreError:
                self._torn_tail = True  # maybe part of the line made it; start the next one fresh
                raise
            self._torn_tail = False
            self._recent.append((rollout, line.strip()))
        return entry_id

    async def read(self, rollout: str | None = None, limit: int = 100) -> list[Doc]:
        out: list[Doc] = []
        for owner, raw in reversed(self._recent):
            if len(out) >= limit:
                break
            if rollout is None or owner == rollout:
                out.append(orjson.loads(raw))
        out.reverse()
        return out

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def _next_id(self) -> str:
        ms, seq = int(time.time() * 1000), 0
        if ms <= self._last[0]:
            ms, seq = self._last[0], self._last[1] + 1
        self._last = (ms, seq)
        return f"{ms}-{seq}"

    def _write_line(self, line: bytes) -> None:
        if self._fh is None:
            raise StoreError("the audit log is closed", op="audit.append")
        self._fh = reopen_if_deleted(self._fh, self._path)
        self._fh.write(line)
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def _load(self) -> bool:
        """Read back the file; returns True when its last line is torn (no final newline)."""
        try:
            data = self._path.read_bytes()
        except FileNotFoundError:
            return False
        for number, raw in enumerate(data.split(b"\n"), start=1):
            line = raw.strip()
            if not line:
                continue
            try:
                entry = orjson.loads(line)
                ms, seq = (int(part) for part in entry["id"].split("-"))
            except (orjson.JSONDecodeError, KeyError, AttributeError, TypeError, ValueError):
                log.warning(
                    "%s:%d: skipping unreadable audit entry (torn write?)", self._path, number
                )
                continue
            self._recent.append((entry.get("rollout"), line))
            self._last = max(self._last, (ms, seq))
        return bool(data) and not data.endswith(b"\n")


def reopen_if_deleted(fh: IO[bytes], path: Path) -> IO[bytes]:
    """`fh` when its file is still there, else a new file at `path` (the data directory was
    deleted: appends to the old one would be lost with it). Call from a worker thread."""
    if os.fstat(fh.fileno()).st_nlink > 0:
        return fh
    fh.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    return open(path, "ab")  # the caller closes it


async def run_io(op: str, fn: Callable[..., T], *args: object) -> T:
    """Run blocking file I/O in a thread; OS errors become StoreError."""
    try:
        return await asyncio.to_thread(fn, *args)
    except OSError as exc:
        raise StoreError(f"embedded {op} failed: {exc}", op=op) from exc
