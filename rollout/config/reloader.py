"""Reload a running process's config from its file: validate fully, refuse what needs a restart,
hand the new config to the process (`apply`), and keep the old one on any error.

The outcome of every attempt is kept (`last`) and reported by the caller's `on_result` hook
(the proxy turns it into metrics); problems read exactly as `rollout check-config` prints them:
`file: key.path: message (got value)`. One reload runs at a time: a file change, a SIGHUP and an
admin call arriving together are taken one after the other.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rollout.config.changes import (
    PROXY_RESTART_ONLY,
    config_hash,
    describe_changes,
    restart_problems,
)
from rollout.config.load import load_config
from rollout.config.model import Config
from rollout.errors import ConfigError, ConfigProblem

log = logging.getLogger("llm_rollout.reload")

Apply = Callable[[Config], Awaitable[None]]


@dataclass(frozen=True)
class ReloadResult:
    ok: bool
    trigger: str  # file, signal, admin
    at: float  # unix time of the attempt
    config_hash: str  # the config in use after the attempt (the old one when it failed)
    changes: tuple[str, ...] = ()
    problems: tuple[ConfigProblem, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "trigger": self.trigger,
            "at": self.at,
            "config_hash": self.config_hash,
            "changes": list(self.changes),
            "problems": [str(p) for p in self.problems],
        }


class ConfigReloader:
    def __init__(
        self,
        path: str | os.PathLike[str],
        running: Config,
        apply: Apply,
        *,
        restart_only: Sequence[str] = PROXY_RESTART_ONLY,
        on_result: Callable[[ReloadResult], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = str(path)
        self.running, self.hash = running, config_hash(running)
        self.apply, self.restart_only = apply, tuple(restart_only)
        self.on_result, self.clock = on_result, clock
        self.loaded_at = clock()
        self.last: ReloadResult | None = None
        self.last_success: ReloadResult | None = None
        self._lock = asyncio.Lock()

    async def reload(self, trigger: str) -> ReloadResult:
        """Load the file and apply it; never raises for a bad config (the result says why)."""
        async with self._lock:
            result = await self._attempt(trigger)
        self.last = result
        if result.ok:
            self.last_success = result
            if result.changes:
                log.info("config reloaded (%s): %s", trigger, "; ".join(result.changes))
        else:
            log.error(
                "config reload (%s) refused, still running config %s:\n%s",
                trigger,
                self.hash,
                "\n".join(str(p) for p in result.problems),
            )
        if self.on_result is not None:
            self.on_result(result)
        return result

    async def _attempt(self, trigger: str) -> ReloadResult:
        now = self.clock()
        try:
            # Off the event loop (file reads, YAML, validation): requests flow meanwhile.
            new, new_hash, changes = await asyncio.to_thread(self._load, self.running, self.hash)
            if changes:
                await self.apply(new)  # raises ConfigError before changing anything
        except ConfigError as exc:
            return ReloadResult(False, trigger, now, self.hash, problems=tuple(exc.problems))
        except Exception as exc:  # a bug: reported like a bad config, never a dead watcher
            log.exception("config reload (%s) failed", trigger)
            problem = ConfigProblem(self.path, "", f"reload failed: {type(exc).__name__}: {exc}")
            return ReloadResult(False, trigger, now, self.hash, problems=(problem,))
        if changes:
            self.running, self.hash, self.loaded_at = new, new_hash, now
        return ReloadResult(True, trigger, now, self.hash, changes=tuple(changes))

    def _load(self, running: Config, running_hash: str) -> tuple[Config, str, list[str]]:
        """The file's config, its hash and what it changes (nothing: same hash). Raises
        ConfigError when it is invalid or changes a setting that needs a restart."""
        new = load_config(self.path)  # prompt files are read again too
        problems = restart_problems(running, new, self.path, self.restart_only)
        if problems:
            raise ConfigError(problems)
        new_hash = config_hash(new)
        if new_hash == running_hash:
            return new, new_hash, []
        return new, new_hash, describe_changes(running, new) or ["no change that affects traffic"]

    def status(self) -> dict[str, Any]:
        """What GET /v1/config answers."""
        return {
            "file": self.path,
            "config_hash": self.hash,
            "loaded_at": self.loaded_at,
            "last_reload": self.last.to_json() if self.last else None,
            "last_success_at": self.last_success.at if self.last_success else None,
            "last_error": self.last.to_json()["problems"] if self.last and not self.last.ok else [],
        }
