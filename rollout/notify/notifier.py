"""Tail the audit log and send each new entry people want to hear of, once, to every receiver
that asked for its event.

Runs beside the controller, as a task of its own: a decision is applied (and audited) first, and
nothing here can delay or block the next one. Only the leader sends (`is_leader`), so a standby
controller does not send twice; every process tails, so a new leader does not send history.
Deliveries run in their own tasks, at most `MAX_PENDING` at once (more are dropped and counted):
a receiver that is down holds back only its own events.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque
from collections.abc import Callable, Mapping, Sequence

import aiohttp

from rollout.config import Config
from rollout.config.notify import Receiver
from rollout.errors import StoreError
from rollout.notify.events import event_of, message
from rollout.notify.sender import SENT, deliver
from rollout.store import Store
from rollout.tasks import cancel_and_wait

log = logging.getLogger("llm_rollout.notify")

READ = 200  # newest audit entries read per look
MAX_PENDING = 100  # deliveries in flight or waiting to retry
SEEN_KEPT = 2_000  # ids remembered, so an entry is never sent twice


class Notifier:
    def __init__(
        self,
        store: Store,
        receivers: Sequence[Receiver],
        is_leader: Callable[[], bool],
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self.store, self.receivers, self.is_leader = store, tuple(receivers), is_leader
        self.environ = environ
        self._seen: set[str] = set()
        self._order: deque[str] = deque()
        self._started = False
        self._pending: set[asyncio.Task[bool]] = set()
        self._session: aiohttp.ClientSession | None = None

    async def run(self, interval: float = 1.0) -> None:
        self._session = aiohttp.ClientSession()
        try:
            while True:
                try:
                    await self.look()
                except StoreError as exc:  # the next look tries again
                    log.warning("notify: audit log unavailable: %s", exc)
                await asyncio.sleep(interval)
        finally:
            await self.close()

    async def look(self) -> int:
        """Send what is new since the last look; returns how many deliveries were started."""
        entries = await self.store.audit.read(None, READ)
        fresh = [e for e in entries if str(e.get("id")) not in self._seen]
        for entry in fresh:
            self._remember(str(entry.get("id")))
        if not self._started:  # what was there before this process started is history
            self._started = True
            return 0
        if not self.is_leader():
            return 0
        return sum(self._send(entry) for entry in fresh)

    def _remember(self, entry_id: str) -> None:
        self._seen.add(entry_id)
        self._order.append(entry_id)
        if len(self._order) > SEEN_KEPT:
            self._seen.discard(self._order.popleft())

    def _send(self, entry: dict) -> int:
        event = event_of(entry)
        if event is None:
            return 0
        started = 0
        for receiver in self.receivers:
            if event not in receiver.events:
                continue
            if len(self._pending) >= MAX_PENDING:
                SENT.labels(receiver.name, event, "dropped").inc()
                continue
            task = asyncio.create_task(self._deliver(receiver, message(entry, event)))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)
            started += 1
        return started

    async def _deliver(self, receiver: Receiver, payload: dict) -> bool:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return await deliver(self._session, receiver, payload, self.environ)

    async def close(self) -> None:
        for task in list(self._pending):
            await cancel_and_wait(task)
        if self._session is not None:
            await self._session.close()
            self._session = None


def start_notifier(
    store: Store, config: Config, is_leader: Callable[[], bool]
) -> asyncio.Task[None] | None:
    """The notifier's task beside a controller, when the config names receivers. Receivers
    are read at start: a reload that changes `notify:` takes effect at the next restart."""
    if not config.notify:
        return None
    return asyncio.create_task(Notifier(store, config.notify, is_leader).run())
