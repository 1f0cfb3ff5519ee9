"""A bounded client loop for end-to-end tests: chat calls through the official openai SDK to
several proxy replicas, across many subjects, recording which model answered each call and when.

    async with SubjectLoad(Ask("ask-x"), [a.url, b.url], subjects) as load:
        ...                     # calls go on in the background until the block ends
    load.answers                # every call: replica, subject, sent/received times, status, model

Calls cycle through the subjects and, for each subject, through the replicas in turn, so every
replica sees every subject. The loop stops at the end of the block, or after `max_calls`.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import openai


@dataclass(frozen=True)
class Ask:
    """What each call asks: the requested model, streamed or not, JSON content or text."""

    model: str
    stream: bool = False
    json: bool = False


@dataclass(frozen=True)
class Answer:
    replica: str  # the base URL the call went to
    subject: str
    sent: float  # time.time(), comparable with the audit's `ts`
    received: float
    status: int  # 200, the error status, or 0 when no HTTP answer came
    model: str | None  # the model that answered: the one the proxy sent the call to


@dataclass
class SubjectLoad:
    ask: Ask
    replicas: Sequence[str]
    subjects: Sequence[str]
    concurrency: int = 8
    max_calls: int = 20_000
    answers: list[Answer] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._jobs = itertools.islice(
            itertools.cycle([(r, s) for s in self.subjects for r in self.replicas]),
            self.max_calls,
        )
        self._clients = {
            url: openai.AsyncOpenAI(
                base_url=url + "/v1", api_key="sk-test", max_retries=0, timeout=10.0
            )
            for url in self.replicas
        }
        self._workers: list[asyncio.Task[None]] = []
        self.skip: set[str] = set()  # replicas no longer sent to (a test killed them)

    async def __aenter__(self) -> SubjectLoad:
        self._workers = [asyncio.create_task(self._work()) for _ in range(self.concurrency)]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        for client in self._clients.values():
            await client.close()

    async def _work(self) -> None:
        for replica, subject in self._jobs:
            if replica not in self.skip:
                self.answers.append(await self._call(replica, subject))

    async def _call(self, replica: str, subject: str) -> Answer:
        sent = time.time()
        try:
            model = await self._ask(self._clients[replica], subject)
            status = 200
        except openai.APIStatusError as exc:
            model, status = None, exc.status_code
        except openai.APIConnectionError:  # includes timeouts
            model, status = None, 0
        return Answer(replica, subject, sent, time.time(), status, model)

    async def _ask(self, client: openai.AsyncOpenAI, subject: str) -> str | None:
        ask = self.ask
        options: dict[str, Any] = {"extra_headers": {"x-user-id": subject}}
        content = "Say hello."
        if ask.json:
            options["response_format"] = {"type": "json_object"}
            content = "Say hello as a JSON object."
        messages: Any = [{"role": "user", "content": content}]
        if not ask.stream:
            completion = await client.chat.completions.create(
                model=ask.model, messages=messages, **options
            )
            return completion.model
        stream = await client.chat.completions.create(
            model=ask.model, messages=messages, stream=True, **options
        )
        model = None
        async for chunk in stream:
            model = model or chunk.model
        return model
