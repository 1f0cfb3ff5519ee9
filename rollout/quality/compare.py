"""Compare what two sides of a shadow pair produced: primary vs candidate, or baseline vs a second
baseline call (the noise sample). Pure: no I/O, no clock.

Comparators, and when each applies (a comparator that does not apply is None, and is left out of
`disagreements`, so it neither agrees nor disagrees):

- error: always. Disagree when exactly one side failed. When either side failed, nothing else
  is compared: an error body says nothing about the model's answer.
- refusal: both sides answered. Disagree when one refused and the other did not.
- json: both answers were checked for JSON. Disagree when one is valid and the other is not
  (the kind of invalidity does not matter).
- tools: both answered. Disagree when the tool names called differ as a multiset: parallel tool
  calls come back in no promised order, so order is not a choice, but calling a tool twice is.
- finish: both answered. Finish reasons are first normalised across APIs (`normalize_finish`).
- length: both answered. Ratio b / a in output tokens when both sides report them, else in
  output characters; 1.0 when both are empty, inf when only a is. Disagree outside
  [1 / length_ratio_max, length_ratio_max] (default 2: one side at least twice as long).
- text: both answered and both texts were captured. Similarity is the Jaccard index of the sets
  of word bigrams (lower-cased `\\w+` words) over the first MAX_WORDS words of each side.
  Cost is O(n) in the capped text: no edit distance, no O(n²) diff. Exact sets (not MinHash)
  because the cap already bounds the cost, and exact values make the thresholds and tests
  reproducible. Bigrams, not single words, so that word order counts a little ("the cat ate the
  dog" is not "the dog ate the cat"); not trigrams, because two samples of the same answer
  rarely share long runs and trigram similarity of equivalent answers collapses towards 0.
  Disagree below `similarity_min` (default 0.3). The threshold matters less than it seems:
  what the rollout reports is the candidate's disagreement *above the baseline's own* (see
  rollout/quality/noise.py), so a threshold that also flags some baseline-vs-baseline pairs only
  raises the noise floor. Choose it so that the baseline's own rate stays well below 50%, or the
  comparator loses its power to tell anything apart.

Deltas (ttft, duration, cost) are b - a, None when either side lacks the number.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from itertools import islice, pairwise

TEXT_CAP = 16_000  # characters of output kept per side (for comparison and for people to read)
MAX_WORDS = 2_000  # words compared per side; bounds the similarity's cost on long outputs

COMPARATORS = ("error", "refusal", "json", "tools", "finish", "length", "text")

_WORD = re.compile(r"\w+")

# Each API's own words for why generation stopped, mapped to one vocabulary. A reason not listed
# is kept (lower-cased) so two sides giving the same unknown reason still agree.
_FINISH = {
    "stop": "stop",  # OpenAI chat
    "end_turn": "stop",  # Anthropic
    "stop_sequence": "stop",  # Anthropic: a stop sequence is an ordinary end
    "completed": "stop",  # OpenAI Responses status
    "length": "length",
    "max_tokens": "length",
    "max_output_tokens": "length",  # OpenAI Responses incomplete_details.reason
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",  # the legacy OpenAI name
    "tool_use": "tool_calls",
    "content_filter": "content_filter",
    "refusal": "refusal",
}


def normalize_finish(reason: str | None) -> str | None:
    """One word for the same ending across APIs: stop, length, tool_calls, content_filter,
    refusal, or the reason itself (lower-cased) when unknown."""
    if reason is None:
        return None
    reason = reason.lower()
    return _FINISH.get(reason, reason)


def cap_text(text: str | None, cap: int = TEXT_CAP) -> str | None:
    return None if text is None else text[:cap]


@dataclass(frozen=True, slots=True)
class SideResult:
    """What one side of a pair produced, reduced to what the comparators need."""

    error: str | None = None  # an error kind (upstream_5xx, total_timeout...); None: answered
    refused: bool = False
    json_result: str | None = None  # valid, invalid_json, ...; None: JSON was not checked
    tools: tuple[str, ...] = ()  # names of the tools called, in the order they came
    finish: str | None = None  # already normalised (normalize_finish)
    text: str | None = None  # output text, capped at TEXT_CAP; None: not captured
    output_chars: int = 0  # the whole output's length, even when `text` is capped
    output_tokens: int | None = None
    ttft: float | None = None
    duration: float | None = None
    cost_usd: float | None = None


@dataclass(frozen=True, slots=True)
class Comparison:
    """Every comparator's raw result; None where it does not apply (see the module doc)."""

    error_a: str | None
    error_b: str | None
    refusal_agree: bool | None = None
    json_valid_a: bool | None = None
    json_valid_b: bool | None = None
    tools_agree: bool | None = None
    finish_agree: bool | None = None
    length_ratio: float | None = None
    similarity: float | None = None
    ttft_delta: float | None = None
    duration_delta: float | None = None
    cost_delta: float | None = None


@dataclass(frozen=True, slots=True)
class Thresholds:
    similarity_min: float = 0.3  # text similarity below this is a disagreement
    length_ratio_max: float = 2.0  # one side this many times longer than the other disagrees


DEFAULT_THRESHOLDS = Thresholds()


def _delta(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else b - a


def _bigrams(text: str) -> set[tuple[str, ...]]:
    # Slice before lower(): lower-casing a huge output would itself be the O(n) we avoid.
    words = [m.group() for m in islice(_WORD.finditer(text[:TEXT_CAP].lower()), MAX_WORDS)]
    if len(words) < 2:
        return {tuple(words)} if words else set()  # a one-word answer is its own shingle
    return set(pairwise(words))


def similarity(a: str, b: str) -> float:
    """Jaccard index of the word-bigram sets: 1.0 for two empty texts, 0.0 if only one is."""
    sa, sb = _bigrams(a), _bigrams(b)
    if not sa and not sb:
        return 1.0
    return len(sa & sb) / len(sa | sb)


def _length(side: SideResult, use_tokens: bool) -> int:
    return side.output_tokens if use_tokens else side.output_chars  # type: ignore[return-value]


def length_ratio(a: SideResult, b: SideResult) -> float:
    use_tokens = a.output_tokens is not None and b.output_tokens is not None
    la, lb = _length(a, use_tokens), _length(b, use_tokens)
    if la == 0:
        return 1.0 if lb == 0 else math.inf
    return lb / la


def _json_valid(side: SideResult) -> bool | None:
    return None if side.json_result is None else side.json_result == "valid"


def compare(a: SideResult, b: SideResult) -> Comparison:
    """Compare side a (the reference: the primary, or the first baseline call) with side b."""
    deltas = {
        "ttft_delta": _delta(a.ttft, b.ttft),
        "duration_delta": _delta(a.duration, b.duration),
        "cost_delta": _delta(a.cost_usd, b.cost_usd),
    }
    if a.error is not None or b.error is not None:
        return Comparison(a.error, b.error, **deltas)
    texts = a.text is not None and b.text is not None
    return Comparison(
        None,
        None,
        refusal_agree=a.refused == b.refused,
        json_valid_a=_json_valid(a),
        json_valid_b=_json_valid(b),
        tools_agree=Counter(a.tools) == Counter(b.tools),
        finish_agree=a.finish == b.finish,
        length_ratio=length_ratio(a, b),
        similarity=similarity(a.text, b.text) if texts else None,  # type: ignore[arg-type]
        **deltas,
    )


def disagreements(c: Comparison, t: Thresholds = DEFAULT_THRESHOLDS) -> dict[str, bool]:
    """Comparator -> True when the two sides disagree; comparators that do not apply are absent.
    These are what the noise estimate counts, per comparator."""
    out = {"error": (c.error_a is None) != (c.error_b is None)}
    if c.error_a is not None or c.error_b is not None:
        return out
    if c.refusal_agree is not None:
        out["refusal"] = not c.refusal_agree
    if c.json_valid_a is not None and c.json_valid_b is not None:
        out["json"] = c.json_valid_a != c.json_valid_b
    if c.tools_agree is not None:
        out["tools"] = not c.tools_agree
    if c.finish_agree is not None:
        out["finish"] = not c.finish_agree
    if c.length_ratio is not None:
        r = c.length_ratio
        out["length"] = r > t.length_ratio_max or r < 1.0 / t.length_ratio_max
    if c.similarity is not None:
        out["text"] = c.similarity < t.similarity_min
    return out
