"""Builtin scorers (the eval's checks) and the HTTP scorer against a small local service."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestServer

from rollout.eval.answer import Answer
from rollout.eval.dataset import Case
from rollout.scorers.builtin import BuiltinScorer, builtin_check
from rollout.scorers.http import HTTP_ERROR, HttpScorer

CASE = Case("c1", "openai.chat", {"model": "m", "messages": [{"role": "user", "content": "Q"}]})


async def test_builtin_expect_and_json_checks() -> None:
    no_refusal = BuiltinScorer("no_refusal", builtin_check(None, {"refused": False}))
    assert (await no_refusal.score(CASE, Answer("ok", None))).passed is True
    refused = await no_refusal.score(CASE, Answer("no", None, refused=True))
    assert (refused.passed, refused.reason, refused.metric) == (False, "refused", 0.0)
    valid = BuiltinScorer("valid_json", builtin_check("json_valid", None))
    assert (await valid.score(CASE, Answer('{"a": 1}', None))).passed is True
    assert (await valid.score(CASE, Answer("{", None))).passed is False
    own = BuiltinScorer("case", builtin_check("case_expect", None))
    nothing = await own.score(CASE, Answer("x", None))  # the case expects nothing
    assert nothing.value is None and nothing.error is None


async def test_http_scorer_retries_then_counts_errors() -> None:
    calls: list[dict] = []
    behaviour = {"fail_first": 1}

    async def handle(request: web.Request) -> web.Response:
        calls.append(await request.json())
        if behaviour["fail_first"] > 0:
            behaviour["fail_first"] -= 1
            return web.Response(status=503)
        if calls[-1]["answer"]["text"] == "bad":
            return web.json_response({"score": "high"})
        return web.json_response({"score": 0.75, "reason": "polite"})

    app = web.Application()
    app.router.add_post("/score", handle)
    async with TestServer(app) as server:
        scorer = HttpScorer("tone", str(server.make_url("/score")), retries=2)
        try:
            score = await scorer.score(CASE, Answer("hello", None))
            assert (score.value, score.reason, len(calls)) == (0.75, "polite", 2)
            assert calls[0]["case"]["id"] == "c1" and calls[0]["scorer"] == "tone"
            wrong = await scorer.score(CASE, Answer("bad", None))
            assert wrong.error == HTTP_ERROR and "not a score" in wrong.reason
            behaviour["fail_first"] = 10
            down = await scorer.score(CASE, Answer("hello", None))
            assert (down.error, down.reason, scorer.errors) == (HTTP_ERROR, "HTTP 503", 2)
        finally:
            await scorer.close()
