"""Judge verdicts kept on disk under the content hash of what was judged: the rubric, the judge
(provider and model), the case and the answer. Re-running an eval whose answers did not change
asks no judge again. Only verdicts are kept, never a judge_error (a flaky judge today must not
be the verdict tomorrow). One file per entry, written to a temporary name and renamed."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import orjson

CACHE_VERSION = b"llm-rollout-judge-cache/1"


def verdict_key(*parts: Any) -> str:
    """The SHA-256 of the parts, each serialized canonically and length-prefixed."""
    digest = hashlib.sha256(CACHE_VERSION)
    for part in parts:
        raw = orjson.dumps(part, option=orjson.OPT_SORT_KEYS)
        digest.update(len(raw).to_bytes(4, "big") + raw)
    return digest.hexdigest()


class VerdictCache:
    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.hits = 0

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            doc = orjson.loads(self._path(key).read_bytes())
        except (OSError, ValueError):
            return None  # absent or unreadable: ask the judge
        if not isinstance(doc, dict):
            return None
        self.hits += 1
        return doc

    def put(self, key: str, verdict: dict[str, Any]) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as out:
            out.write(orjson.dumps(verdict))
        os.replace(tmp, path)
