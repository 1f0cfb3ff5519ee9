"""Watch a config file and the prompt files it names, and reload when they change.

Polling, not inotify: a Kubernetes ConfigMap mount updates by pointing a `..data` symlink at a
new directory and renaming it into place, which no watch on the old file would see. Each poll
resolves every path again and hashes what it points to, so any way of changing a file (edit in
place, write-and-rename, symlink swap) is seen, and nothing changes when a file is touched
without changing its content.

A change is reloaded once two polls in a row saw the same content: an editor that writes the
file in several steps is read when it has finished, not half-way.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from rollout.config.load import parse_yaml
from rollout.tasks import cancel_and_wait

log = logging.getLogger("llm_rollout.reload")

POLL_ENV = "LLM_ROLLOUT_CONFIG_POLL"  # seconds between two looks at the files; 0: SIGHUP only
DEFAULT_POLL = 0.5


def poll_seconds(environ: Mapping[str, str]) -> float:
    raw = environ.get(POLL_ENV, "")
    try:
        seconds = float(raw) if raw else DEFAULT_POLL
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        log.warning("%s=%r is not a number of seconds >= 0; using %g", POLL_ENV, raw, DEFAULT_POLL)
        return DEFAULT_POLL
    return seconds


# One entry per watched file: (path as named, the file it resolves to, sha256 of its content);
# realpath and digest are None while the file cannot be read.
Fingerprint = tuple[tuple[str, str | None, str | None], ...]


def prompt_files(config_text: str, base_dir: Path) -> list[Path]:
    """The prompt files a config names (rollouts[].baseline/candidate.prompt.file), read
    leniently: a config too broken to say is still watched for its own next edit."""
    return [base_dir / name for name in _prompt_names(config_text)]


# Every poll asks again; parsing a config of a thousand rules twice a second would keep a core
# busy, so the answer is kept for the text last seen (the poll only hashes the file then).
@functools.lru_cache(maxsize=2)
def _prompt_names(config_text: str) -> tuple[str, ...]:
    try:
        raw = parse_yaml(config_text)
    except yaml.YAMLError:
        return ()
    rollouts = raw.get("rollouts") if isinstance(raw, dict) else None
    found = []
    for rollout in rollouts if isinstance(rollouts, list) else []:
        for arm in ("baseline", "candidate"):
            prompt = _get(_get(rollout, arm), "prompt")
            name = _get(prompt, "file")
            if isinstance(name, str):
                found.append(name)
    return tuple(found)


def _get(node: Any, key: str) -> Any:
    return node.get(key) if isinstance(node, dict) else None


def _read(path: Path) -> tuple[str | None, bytes | None]:
    try:
        real = os.path.realpath(path)
        return real, Path(real).read_bytes()
    except OSError:
        return None, None


def fingerprint(config_path: Path) -> Fingerprint:
    """The config file and every prompt file it names, as they are now."""
    real, content = _read(config_path)
    entries = [_entry(config_path, real, content)]
    if content is not None:
        text = content.decode("utf-8", errors="replace")
        for prompt in prompt_files(text, config_path.parent):
            entries.append(_entry(prompt, *_read(prompt)))
    return tuple(entries)


def _entry(
    path: Path, real: str | None, content: bytes | None
) -> tuple[str, str | None, str | None]:
    digest = hashlib.sha256(content).hexdigest() if content is not None else None
    return str(path), real, digest


def should_reload(attempted: Fingerprint, previous: Fingerprint, current: Fingerprint) -> bool:
    """Reload when the files differ from what was last tried and held still for one poll."""
    return current != attempted and current == previous


class ConfigWatcher:
    """Polls `path` every `interval` seconds and awaits `reload("file")` on a settled change;
    an interval of 0 watches nothing (reloads come from SIGHUP and the admin API only)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        reload: Callable[[str], Awaitable[object]],
        interval: float = 0.5,
    ) -> None:
        self.path, self.reload, self.interval = Path(path), reload, interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None and self.interval > 0:
            # The baseline is taken now, before the first sleep: the file as it was loaded.
            first = fingerprint(self.path)
            self._task = asyncio.create_task(self._run(first), name="config-watcher")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _run(self, attempted: Fingerprint) -> None:
        previous = attempted
        while True:
            await asyncio.sleep(self.interval)
            try:
                current = await asyncio.to_thread(fingerprint, self.path)
                if should_reload(attempted, previous, current):
                    attempted = current
                    await self.reload("file")
                previous = current
            except Exception:  # a bug here must not end the watch
                log.exception("config watch failed")
