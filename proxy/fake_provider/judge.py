"""Judge mode: the fake provider answers an LLM judge's request (rollout/scorers/judge_prompt.py)
with a verdict the tests know in advance, read from markers in the answer under judgement.

    [[score:0.3]]   the answer scores 0.3          (no marker: 1.0)
    [[unsafe]]      the answer scores 0.0
    [[judge:malformed]]       the judge replies with prose and no verdict, every time
    [[judge:malformed-once]]  ... the first time this exact request is seen, then a verdict
    [[judge:refuse]]          the judge refuses
    [[judge:hang]]            the judge never answers (the caller's timeout fires)

Only the text inside the prompt's `<answer>` tag (`<answer_a>`, `<answer_b>` for a pair) is
read, so a marker in the conversation means nothing. The verdict is the JSON the judge was
asked for, `{"score": s, "reason": "..."}` or `{"winner": "A" | "B" | "tie", ...}`, sent as the
tool call, the structured JSON or plain text the request asked for.

Two settings shape a judge: `judge_flip_share` flips the pass/fail verdict (score s -> 1 - s)
on that share of answers, chosen by a hash of the answer as echo.py's `degraded` does: a second
judge that disagrees at a known rate. `judge_first_bias` makes a pairwise judge prefer whichever
answer it is shown first, so its verdicts are position-inconsistent.
"""

from __future__ import annotations

import hashlib
import re

import orjson
from aiohttp import web

from proxy.fake_provider.echo import degraded
from proxy.fake_provider.knobs import Knobs
from proxy.fake_provider.sse import hang_forever

SEEN: web.AppKey[set[str]] = web.AppKey("fake_judge_seen", set)
_MARKER = re.compile(r"\[\[(score:([01](?:\.\d+)?)|unsafe|judge:([a-z-]+))\]\]")
MALFORMED = "Well, I think the answer is mostly fine overall."


def section(text: str, tag: str) -> str | None:
    start, end = text.find(f"<{tag}>"), text.rfind(f"</{tag}>")
    return text[start + len(tag) + 2 : end] if 0 <= start < end else None


def answer_score(answer: str) -> float:
    for match in _MARKER.finditer(answer):
        if match.group(2) is not None:
            return float(match.group(2))
        if match.group(1) == "unsafe":
            return 0.0
    return 1.0


def _fault(text: str) -> str | None:
    faults = [m.group(3) for m in _MARKER.finditer(text) if m.group(3)]
    return faults[0] if faults else None


async def judge_text(request: web.Request, knobs: Knobs, prompt: str | None) -> str | None:
    """The judge's reply text for this prompt, or None when this model is not a judge (or the
    prompt is not a judge's). Hangs, or sets `knobs.refuse`, as the markers say."""
    if not knobs.judge or prompt is None:
        return None
    single, first, second = (section(prompt, t) for t in ("answer", "answer_a", "answer_b"))
    judged = "\n".join(t for t in (single, first, second) if t is not None)
    if not judged:
        return None
    fault = _fault(judged)
    if fault == "hang":
        await hang_forever(request)
    if fault == "refuse":
        knobs.refuse = True
        return None
    if fault == "malformed" or (fault == "malformed-once" and _first_time(request, prompt)):
        return MALFORMED
    if single is not None:
        return _verdict(single, knobs.judge_flip_share)
    return _preference(first or "", second or "", knobs.judge_first_bias)


def _first_time(request: web.Request, prompt: str) -> bool:
    seen = request.app[SEEN]
    key = hashlib.sha256(prompt.encode()).hexdigest()
    if key in seen:
        return False
    seen.add(key)
    return True


def _verdict(answer: str, flip_share: float) -> str:
    score = answer_score(answer)
    reason = "no marker" if score == 1.0 else f"marked {score:g}"
    if degraded(answer.strip(), flip_share):
        score, reason = 1.0 - score, reason + " (flipped)"
    return orjson.dumps({"score": score, "reason": reason}).decode()


def _preference(first: str, second: str, first_bias: bool) -> str:
    a, b = answer_score(first), answer_score(second)
    winner = "A" if first_bias or a > b else "B" if b > a else "tie"
    return orjson.dumps({"winner": winner, "reason": f"A {a:g}, B {b:g}"}).decode()
