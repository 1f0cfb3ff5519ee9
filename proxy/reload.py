"""Hot reload of a running proxy: a changed config file (or prompt file), SIGHUP or
`POST /v1/config/reload` builds a new generation and swaps it in between requests.

What is rebuilt and what is kept:
- rebuilt, swapped in one assignment: the router, the compiled rollouts and flags, the pipeline
  (proxy/generation.py); a request keeps the generation it started with;
- updated in place: the runtime (rollouts, flags and their live state, read from the store before
  the swap), the embedded controller (it takes the new plans at its next step), the store, the
  metric windows and their flusher;
- upstream sessions: an unchanged provider keeps its session; a new or changed one gets a new
  session; a removed or replaced one is closed once no request can still be using it (its total
  timeout after the swap), or at shutdown.
Refused with a clear message, the old config kept: listen, admin and store (restart to change
them), a first rollout or flag in a proxy started without any (the store is opened at start),
and providers whose API key variable is not set.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Mapping
from pathlib import Path

from proxy.app import Proxy
from proxy.cohorts.compiled import CompiledRollout, compile_rollout
from proxy.config_metrics import report_loaded, report_reload
from proxy.upstream import Upstream
from rollout.config import Config, Provider, missing_credentials
from rollout.config.reloader import ConfigReloader, ReloadResult
from rollout.config.watch import ConfigWatcher, poll_seconds
from rollout.errors import ConfigError, ConfigProblem
from rollout.targeting.flags import FlagSet
from rollout.tasks import cancel_and_wait, run_kept

log = logging.getLogger("llm_rollout.reload")
DRAIN_MARGIN = 5.0  # seconds beyond a provider's total timeout before its old session closes


class ProxyReload:
    """The `apply` of a ConfigReloader for one Proxy, and the old sessions it has to close."""

    def __init__(self, proxy: Proxy, file: str, drain_margin: float = DRAIN_MARGIN) -> None:
        self.proxy, self.file, self.drain_margin = proxy, file, drain_margin
        self._closing: set[asyncio.Task[None]] = set()
        self._retired: set[Upstream] = set()

    async def __call__(self, config: Config) -> None:
        self._check(config)
        proxy = self.proxy
        running = proxy.config.providers
        upstreams, retired = await _renew_upstreams(
            proxy.upstreams, running, config.providers, proxy.environ
        )
        # Compiling hundreds of rollouts and flags takes tens of ms: off the event loop.
        rollouts, flags = await asyncio.to_thread(_compile, config, upstreams)
        if proxy.runtime is not None:
            await proxy.runtime.reconfigure(rollouts, flags)
        # No await from here on: the runtime's new state and the new generation arrive together.
        proxy.upstreams = upstreams
        proxy.generation = proxy.build_generation(config, upstreams, rollouts)
        proxy.shadow.keep_only(proxy.generation.mirrors)  # queues of rollouts no longer mirrored
        proxy.scoring.keep_only(proxy.generation.scorings)  # ... no longer scored
        proxy.follow_plans()
        for upstream in retired:
            self._retire(upstream, running[upstream.name].timeouts.total + self.drain_margin)

    def _check(self, config: Config) -> None:
        problems = [
            ConfigProblem(self.file, "providers", f"environment variable {name} is not set")
            for name in missing_credentials(config, self.proxy.environ)
        ]
        if self.proxy.runtime is None and (config.rollouts or config.flags):
            section = "rollouts" if config.rollouts else "flags"
            problems.append(
                ConfigProblem(
                    self.file,
                    section,
                    "the first rollout or flag needs a restart (this proxy started without any,"
                    " so it opened no store)",
                )
            )
        if problems:
            raise ConfigError(problems)

    def _retire(self, upstream: Upstream, after: float) -> None:
        self._retired.add(upstream)

        async def close_later() -> None:
            await asyncio.sleep(after)
            self._retired.discard(upstream)
            await upstream.close()

        task = asyncio.create_task(close_later(), name=f"close-upstream-{upstream.name}")
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        """At shutdown: close the old sessions now instead of waiting for their drain."""
        for task in list(self._closing):
            await cancel_and_wait(task)
        for upstream in list(self._retired):
            await upstream.close()
        self._retired.clear()


def _compile(
    config: Config, upstreams: Mapping[str, Upstream]
) -> tuple[list[CompiledRollout], FlagSet]:
    return [compile_rollout(r, upstreams) for r in config.rollouts], FlagSet(config.flags)


async def _renew_upstreams(
    current: Mapping[str, Upstream],
    running: Mapping[str, Provider],
    wanted: Mapping[str, Provider],
    environ: Mapping[str, str],
) -> tuple[dict[str, Upstream], list[Upstream]]:
    """The upstreams of the new config, and the old ones it no longer uses. An unchanged
    provider keeps its session (and its pooled connections); a new or changed one gets a new,
    started session."""
    upstreams: dict[str, Upstream] = {}
    for name, provider in wanted.items():
        old = current.get(name)
        if old is not None and running.get(name) == provider:
            upstreams[name] = old
            continue
        upstreams[name] = Upstream(name, provider, environ)
        await upstreams[name].start()
    retired = [u for name, u in current.items() if upstreams.get(name) is not u]
    return upstreams, retired


_HELD_SIGHUPS: list[int] = []  # received before a LiveConfig took SIGHUP over


def hold_sighup() -> None:
    """From now until a LiveConfig starts, remember a SIGHUP instead of dying of it (its
    default): a reload asked for while the process starts is done once it has started."""
    signal.signal(signal.SIGHUP, remember_sighup)


def remember_sighup(signum: int, _frame: object) -> None:
    _HELD_SIGHUPS.append(signum)


class LiveConfig:
    """A proxy following its config file: the reloader, the file watcher and SIGHUP.

    With several worker processes each one watches the file and gets SIGHUP from the parent; an
    admin reload reaches one worker, which asks the parent to forward SIGHUP to all of them."""

    def __init__(
        self, proxy: Proxy, path: str | os.PathLike[str], *, workers: bool = False
    ) -> None:
        self.apply = ProxyReload(proxy, str(path))
        self.reloader = ConfigReloader(path, proxy.config, self.apply, on_result=report_reload)
        report_loaded(self.reloader.hash, self.reloader.loaded_at)
        self.watcher = ConfigWatcher(Path(path), self.reloader.reload, poll_seconds(proxy.environ))
        self.workers = workers
        self._signalled: set[asyncio.Task[ReloadResult]] = set()

    def start(self, signals: bool = True) -> None:
        self.watcher.start()
        if signals:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._on_sighup)
            if _HELD_SIGHUPS:
                _HELD_SIGHUPS.clear()
                self._on_sighup()

    def _on_sighup(self) -> None:
        run_kept(self._signalled, self.reloader.reload("signal"))

    async def reload_everywhere(self, trigger: str) -> ReloadResult:
        """Reload this process now, and ask the other workers to."""
        result = await self.reloader.reload(trigger)
        if self.workers:
            os.kill(os.getppid(), signal.SIGHUP)
        return result

    async def cleanup(self) -> None:
        await self.watcher.stop()
        for task in list(self._signalled):
            task.cancel()
        await self.apply.close()
