"""The eval's response cache: an upstream's raw answer kept on disk under the content hash of
what was sent (provider, model, path, final body), so re-running an unchanged arm on every pull
request sends nothing.

Only successful answers are kept (never an error: a 429 today must not be an answer tomorrow).
An entry keeps the raw bytes as the upstream sent them and the timings of the original call, so
a replay is observed by the same side parsers and reports the latency that was measured.
One file per entry, written to a temporary name and renamed, so concurrent runs sharing a cache
directory never read half an entry.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import orjson

CACHE_VERSION = b"llm-rollout-eval-cache/1"


def default_cache_dir() -> Path:
    """Under the user's cache directory (XDG_CACHE_HOME, else ~/.cache)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "llm-rollout" / "eval"


def cache_key(provider: str, model: str | None, path: str, body: bytes, repeat: int = 0) -> str:
    """`repeat`: the k-th ask of the same request (`--repeat`) is an answer of its own, or
    repeats would read the first answer back and measure nothing."""
    digest = hashlib.sha256(CACHE_VERSION)
    for part in (provider.encode(), (model or "").encode(), path.encode()):
        digest.update(len(part).to_bytes(4, "big") + part)  # length-prefixed: no ambiguity
    if repeat:
        digest.update(b"repeat" + repeat.to_bytes(4, "big"))
    digest.update(body)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    status: int
    encoding: str | None  # the upstream's Content-Encoding
    content_type: str | None
    body: bytes
    ttfb: float | None  # seconds from the start of the original call to its first byte
    ttft: float | None  # ... to its first token
    duration: float  # ... to its last byte


class ResponseCache:
    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.hits = 0
        self.misses = 0

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> CachedAnswer | None:
        try:
            doc = orjson.loads(self._path(key).read_bytes())
            found = CachedAnswer(**{**doc, "body": bytes.fromhex(doc["body"])})
        except (OSError, ValueError, TypeError, KeyError):
            self.misses += 1  # absent, or unreadable: a miss, never an error of the run
            return None
        self.hits += 1
        return found

    def put(self, key: str, answer: CachedAnswer) -> None:
        if not 200 <= answer.status < 300:
            return
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "status": answer.status,
            "encoding": answer.encoding,
            "content_type": answer.content_type,
            "body": answer.body.hex(),
            "ttfb": answer.ttfb,
            "ttft": answer.ttft,
            "duration": answer.duration,
        }
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as out:
            out.write(orjson.dumps(doc))
        os.replace(tmp, path)
