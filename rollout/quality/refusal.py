"""Phrase-based refusal detection: the fallback when the provider gives no refusal signal.

Provider signals (OpenAI `finish_reason: content_filter`, `message.refusal` / `delta.refusal`,
Responses `refusal` content parts, Anthropic `stop_reason: refusal`) are read by the response
parsers; this module only looks at answer text. See docs/refusals.md.

Rule: an answer is a refusal when one of the phrases occurs in its *opening* — the text up to the
first sentence end (. ! ? before whitespace, or a line break) within the first `window`
characters, where sentence ends in the first MIN_OPENING_CHARS characters ("I'm sorry.") do not
count — starting at a word boundary and outside quotation marks or `code`. Matching is on
normalised text: lower case, curly quotes straightened, whitespace collapsed and common
contractions expanded ("can't"/"can not" → "cannot", "I'm" → "i am", ...). Phrases are
normalised the same way, so one phrase covers its spelling variants.

Looking only at the opening is what keeps precision high: helpful answers say "I can't help
with Windows paths" in passing, refusals say it first.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from itertools import product

# Below this many characters a sentence end does not close the opening, so that "I'm sorry. I
# can't help with that." is read as one opening.
MIN_OPENING_CHARS = 20

# Building blocks of DEFAULT_PHRASES, written in normalised form (contractions expanded).
# "Negation" = the model saying it cannot or will not act.
_NEGATIONS = (
    "i cannot",
    "i will not",
    "i cannot and will not",
    "i am unable to",
    "i am not able to",
    "i will not be able to",
    "i am not going to",
    "i am not in a position to",
    "i would rather not",
    "i would prefer not to",
    "i do not think i should",
    "i should not",
)
# What it will not do. Objects are spelled out where the bare verb is also used helpfully
# ("I can't provide a definitive answer, but…", "I can't write to that path…").
_ACTIONS = (
    "help with", "help you", "help here", "help there", "help.", "help,", "assist", "comply",
    "fulfill", "fulfil", "go along with",
    "participate in", "engage in", "engage with", "support that", "support this",
    "be of help", "be of assistance",
    "provide that", "provide this", "provide those", "provide such", "provide any",
    "provide instructions", "provide information on", "provide information about",
    "provide assistance", "provide guidance", "provide help", "provide detailed",
    "provide specific", "provide step-by-step", "provide a step-by-step",
    "provide a recipe", "provide a guide", "provide details", "provide content",
    "create that", "create this", "create content", "create such", "create any",
    "write that", "write this", "write content", "write such", "write any",
    "generate that", "generate this", "generate content", "generate such", "generate any",
    "produce that", "produce content", "share that", "share this", "share those",
    "share personal", "share private", "give instructions", "give you instructions",
    "do that.", "do this.", "do that for you", "answer that.", "discuss that", "discuss this",
)  # fmt: skip
# An apology or "I'm afraid" immediately followed by a negation declines whatever comes next
# ("I'm sorry, but I can't write a phishing email").
_LEAD_INS = (
    "i am sorry, but",
    "i am sorry,",
    "i am sorry.",
    "i am really sorry, but",
    "sorry, but",
    "sorry,",
    "sorry.",
    "i apologize, but",
    "i apologise, but",
    "i apologize.",
    "i am afraid",
)
_STANDALONE = (
    "i must decline",
    "i have to decline",
    "i will have to decline",
    "i need to decline",
    "i must respectfully decline",
    "i respectfully decline",
    "i must refuse",
    "i cannot in good conscience",
    "i refuse to",
    "i am not comfortable",
    "i do not feel comfortable",
    "i am not allowed to",
    "i am not permitted to",
    "not something i can help with",
    "not something i can assist with",
    "not something i can do",
    "not something i am able to help with",
    "not something i will help with",
    "against my guidelines",
    "violates my guidelines",
    "against my usage policies",
)


def _default_phrases() -> tuple[str, ...]:
    phrases = [f"{neg} {act}" for neg, act in product(_NEGATIONS, _ACTIONS)]
    phrases += [f"{lead} {neg}" for lead, neg in product(_LEAD_INS, _NEGATIONS)]
    phrases += _STANDALONE
    return tuple(phrases)


DEFAULT_PHRASES: tuple[str, ...] = _default_phrases()

_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'",
                         "\u201c": '"', "\u201d": '"', "\u00a0": " "})  # fmt: skip
_CONTRACTIONS = {
    "can't": "cannot", "cant": "cannot", "can not": "cannot", "won't": "will not",
    "i'm": "i am", "im": "i am", "i'll": "i will", "i'd": "i would", "don't": "do not",
    "that's": "that is", "it's": "it is", "isn't": "is not", "i've": "i have",
}  # fmt: skip
_CONTRACTION_RE = re.compile(
    r"(?<![\w'])(?:" + "|".join(re.escape(c) for c in sorted(_CONTRACTIONS, key=len, reverse=True))
    + r")(?![\w'])"
)  # fmt: skip
# Quoted text is about a refusal, not one ("the bot replies "I can't help with that""): dropped.
# A single quote only opens a span at a word start, so apostrophes ("someone's") never do.
_QUOTED = re.compile(r'"[^"]*"|(?<!\w)\'[^\']*\'(?!\w)')
# A sentence ends at . ! ? followed by whitespace or the end, or at a line break.
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)|\n")


def normalize(text: str) -> str:
    """Lower case, straight quotes, single spaces, expanded contractions."""
    text = " ".join(text.translate(_QUOTES).lower().split())
    return _CONTRACTION_RE.sub(lambda m: _CONTRACTIONS[m.group(0)], text)


def _trie_pattern(phrases: Iterable[str]) -> str:
    """One regex alternation with shared prefixes factored out.

    Hundreds of phrases start with "i cannot …"; a flat alternation would retry each of them at
    every position, the trie form tests the common prefix once.
    """
    trie: dict[str, dict] = {}
    for phrase in phrases:
        node = trie
        for char in phrase:
            node = node.setdefault(char, {})
        node[""] = {}  # end of a phrase

    def build(node: dict[str, dict]) -> str:
        ends = "" in node
        branches = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if ends:  # a shorter phrase ends here; a longer one may continue
            return "(?:" + body + ")?" if len(branches) == 1 else body + "?"
        return body

    return build(trie)


class RefusalDetector:
    """Flags answers whose opening contains a refusal phrase (see the module docstring)."""

    __slots__ = ("_regex", "phrases", "window")

    def __init__(
        self,
        phrases: Sequence[str] | None = None,
        window: int = 200,
        extra_phrases: Sequence[str] = (),
    ) -> None:
        """`phrases` replaces DEFAULT_PHRASES; `extra_phrases` adds to whichever set is used."""
        if window <= 0:
            raise ValueError(f"window must be positive, got {window}")
        base = DEFAULT_PHRASES if phrases is None else tuple(phrases)
        normalised = {normalize(p) for p in (*base, *extra_phrases)}
        normalised.discard("")
        if not normalised:
            raise ValueError("at least one non-empty refusal phrase is needed")
        self.phrases: tuple[str, ...] = tuple(sorted(normalised))
        self.window = window
        # Each phrase: the alternation, at a word start not preceded by a quote (a quoted
        # "I can't help with that" is text about a refusal), and ending at a word end when it
        # ends in a letter.
        wordy = [p for p in self.phrases if p[-1].isalnum()]
        other = [p for p in self.phrases if not p[-1].isalnum()]
        alternatives = []
        if wordy:
            alternatives.append("(?:" + _trie_pattern(wordy) + r")(?![a-z0-9])")
        if other:
            alternatives.append("(?:" + _trie_pattern(other) + ")")
        self._regex = re.compile(r"(?<![\w'\"])(?:" + "|".join(alternatives) + ")")

    def opening(self, text: str) -> str:
        """The normalised opening that `is_refusal` searches."""
        # Slice before lstrip: answers can be 100 kB and lstrip copies the whole string.
        head = text[: 4 * self.window].lstrip()[: self.window]
        for match in _SENTENCE_END.finditer(head, MIN_OPENING_CHARS - 1):
            head = head[: match.end()]
            break
        opening = normalize(head)
        if '"' in opening or "'" in opening:  # skip the substitution in the common case
            opening = _QUOTED.sub('""', opening)
        return opening

    def is_refusal(self, text: str) -> bool:
        if not text:
            return False
        return self._regex.search(self.opening(text)) is not None


@functools.lru_cache(maxsize=8)
def shared_detector(phrases: tuple[str, ...] | None = None) -> RefusalDetector:
    """One detector per phrase list, built once (compiling it takes ~10 ms): a config reload
    that leaves `observe.refusal_phrases` alone reuses it. Detectors are never changed."""
    return RefusalDetector(phrases)
