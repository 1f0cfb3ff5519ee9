"""A team's own scoring service as a scorer: the case and the answer POSTed as JSON, a score
back.

    request:  {"scorer": NAME, "case": {"id", "request", "reference", "tags"},
               "answer": {"text", "refused", "tool_calls": [[name, arguments]], "output_tokens"}}
    response: {"score": 0.0..1.0, "passed": true | false (optional), "reason": "..." (optional)}

A timeout, a refused connection, a 429 or 5xx is tried again (`retries` times, with a short
backoff); what still fails, or a response that is not the JSON above, is an `http_error` score:
counted, shown, never a pass.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import aiohttp
import orjson

from rollout.eval.answer import Answer
from rollout.eval.dataset import Case
from rollout.scorers.base import Score

HTTP_ERROR = "http_error"
BACKOFF = 0.2  # seconds before the first retry; doubled each time


class HttpScorer:
    def __init__(
        self,
        name: str,
        url: str,
        *,
        timeout: float = 10.0,
        retries: int = 1,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.name, self.url, self.retries = name, url, retries
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.headers = {"content-type": "application/json", **(headers or {})}
        self.errors = 0
        self._session: aiohttp.ClientSession | None = None

    async def score(self, case: Case, answer: Answer) -> Score:
        body = orjson.dumps(_payload(self.name, case, answer))
        problem = "not sent"
        for attempt in range(self.retries + 1):
            if attempt:
                await asyncio.sleep(BACKOFF * 2 ** (attempt - 1))
            doc, problem, retry = await self._post(body)
            if doc is not None:
                score = _score(self.name, doc)
                if score is not None:
                    return score
                problem = f"not a score: {orjson.dumps(doc).decode()[:120]}"
                break  # the service answered, wrongly: asking again gives the same
            if not retry:
                break
        self.errors += 1
        return Score(self.name, None, reason=problem, error=HTTP_ERROR)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _post(self, body: bytes) -> tuple[Any, str, bool]:
        """(the JSON answer or None, the problem, whether trying again may help)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        try:
            async with self._session.post(self.url, data=body, headers=self.headers) as response:
                raw = await response.read()
                if response.status >= 300:
                    retry = response.status == 429 or response.status >= 500
                    return None, f"HTTP {response.status}", retry
        except TimeoutError:
            return None, f"no answer within {self.timeout.total:g}s", True
        except aiohttp.ClientError as exc:
            return None, f"{type(exc).__name__}: {exc}", True
        try:
            return orjson.loads(raw), "", False
        except orjson.JSONDecodeError:
            return None, "the response is not JSON", False


def _payload(name: str, case: Case, answer: Answer) -> dict[str, Any]:
    return {
        "scorer": name,
        "case": {
            "id": case.id,
            "request": case.request,
            "reference": case.reference,
            "tags": list(case.tags),
        },
        "answer": {
            "text": answer.text,
            "refused": answer.refused,
            "tool_calls": [list(call) for call in answer.tool_calls],
            "output_tokens": answer.output_tokens,
        },
    }


def _score(name: str, doc: Any) -> Score | None:
    if not isinstance(doc, dict):
        return None
    value, passed, reason = doc.get("score"), doc.get("passed"), doc.get("reason", "")
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        return None
    if passed is not None and not isinstance(passed, bool):
        return None
    return Score(name, float(value), passed=passed, reason=str(reason)[:300])
