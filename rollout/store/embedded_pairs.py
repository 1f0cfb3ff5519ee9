"""The embedded store's shadow pairs: one JSONL file per rollout under `pairs/`, newest last.

Pairs are samples for people to read, not records: an append is flushed but not fsynced (a crash
may lose the last few), and a torn line is skipped when read back. The file is rewritten with
only the newest `keep` pairs once it holds twice that many, so it stays bounded. After a restart
and before the next add, a read may see up to twice `keep` (the bound is known at add time).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque
from pathlib import Path
from urllib.parse import quote

import orjson

from rollout.store.base import Doc
from rollout.store.embedded_files import run_io

log = logging.getLogger(__name__)


class _Kept:
    __slots__ = ("lines", "on_disk", "torn")

    def __init__(self, lines: deque[bytes], on_disk: int, torn: bool) -> None:
        self.lines, self.on_disk = lines, on_disk
        self.torn = torn  # the file ends in a torn line: the next append starts a fresh one


class FilePairs:
    def __init__(self, root: Path) -> None:
        self._dir = root / "pairs"
        self._kept: dict[str, _Kept] = {}
        self._lock = asyncio.Lock()

    async def add(self, rollout: str, pair: Doc, keep: int) -> None:
        line = orjson.dumps(pair)
        async with self._lock:
            kept = await self._load(rollout, keep)
            kept.lines.append(line)
            if kept.on_disk + 1 > 2 * keep:
                await run_io("pairs.add", self._rewrite, self._path(rollout), list(kept.lines))
                kept.on_disk = len(kept.lines)
            else:
                prefix = b"\n" if kept.torn else b""
                await run_io("pairs.add", self._append, self._path(rollout), prefix + line)
                kept.on_disk += 1
            kept.torn = False

    async def read(self, rollout: str, limit: int = 20) -> list[Doc]:
        if limit <= 0:
            return []
        async with self._lock:
            kept = self._kept.get(rollout) or await self._load(rollout, None)
            return [orjson.loads(line) for line in list(kept.lines)[-limit:]]

    async def _load(self, rollout: str, keep: int | None) -> _Kept:
        kept = self._kept.get(rollout)
        if kept is not None and (keep is None or kept.lines.maxlen == keep):
            return kept
        if kept is None:
            lines, torn = await run_io("pairs.read", self._read, self._path(rollout))
            kept = _Kept(deque(lines, maxlen=keep), len(lines), torn)
        else:  # `keep` changed (a config reload): keep what fits
            kept = _Kept(deque(kept.lines, maxlen=keep), kept.on_disk, kept.torn)
        if keep is not None:  # a read before any add does not fix the bound
            self._kept[rollout] = kept
        return kept

    def _path(self, rollout: str) -> Path:
        return self._dir / f"{quote(rollout, safe='')}.jsonl"

    def _read(self, path: Path) -> tuple[list[bytes], bool]:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return [], False
        lines = []
        for raw in data.split(b"\n"):
            try:
                if raw.strip():
                    orjson.loads(raw)
                    lines.append(raw.strip())
            except orjson.JSONDecodeError:
                log.warning("%s: skipping an unreadable pair (torn write?)", path)
        return lines, bool(data) and not data.endswith(b"\n")

    def _append(self, path: Path, line: bytes) -> None:
        self._dir.mkdir(exist_ok=True)
        with open(path, "ab") as fh:
            fh.write(line + b"\n")

    def _rewrite(self, path: Path, lines: list[bytes]) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(b"".join(line + b"\n" for line in lines))
        os.replace(tmp, path)
