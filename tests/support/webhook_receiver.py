"""A webhook receiver on loopback for notification tests: keeps every JSON body POSTed to /hook."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.servers import serve_in_thread


@dataclass
class Hook:
    url: str = ""
    got: list[dict[str, Any]] = field(default_factory=list)

    def of(self, event_id: str) -> list[dict[str, Any]]:
        return [n for n in self.got if n.get("id") == event_id]


@contextmanager
def webhook_receiver() -> Iterator[Hook]:
    hook = Hook()

    async def take(request: web.Request) -> web.Response:
        hook.got.append(await request.json())
        return web.Response(status=204)

    def app() -> web.Application:
        application = web.Application()
        application.router.add_post("/hook", take)
        return application

    with serve_in_thread(app) as server:
        hook.url = f"{server.url}/hook"
        yield hook
