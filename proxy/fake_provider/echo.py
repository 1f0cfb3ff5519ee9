"""Echo mode: answer with the last user message's text, except on a known share of questions.

`echo` lets an eval dataset's expectations (`contains` a phrase of the question) pass against the
fake provider; `degrade_share` makes a candidate measurably worse on exactly the same cases
whatever the order, concurrency or arm, because the choice depends on the question alone:

    degraded  <=>  int.from_bytes(sha256(text.encode("utf-8")).digest()[:8], "big") / 2**64
                   < degrade_share

where `text` is the last user message's text as `last_user_text` extracts it. So share 0 never
degrades, share 1 always does, and share 0.3 degrades about 30% of a dataset's distinct questions
— the same 30% on every run and with every seed.
"""

from __future__ import annotations

import hashlib
import re

_TEXT_PARTS = frozenset({"text", "input_text"})  # chat/Anthropic parts; Responses input parts
_WORD = re.compile(r"\s*\S+")


def last_user_text(messages: object) -> str | None:
    """The text of the last message with role "user", or None when there is none.

    `messages` is a chat / Anthropic `messages` list, or a Responses `input` (a string, or a
    list of items). A string content is the text; a list of parts gives its text parts joined
    with newlines (images, tool results and the like are left out); no text part gives None.
    """
    if isinstance(messages, str):
        return messages  # Responses: `input` as a plain string is one user message
    if not isinstance(messages, list):
        return None
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return _content_text(message.get("content"))
    return None


def _content_text(content: object) -> str | None:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return None
    texts = [
        part["text"]
        for part in content
        if isinstance(part, dict)
        and part.get("type") in _TEXT_PARTS
        and isinstance(part.get("text"), str)
    ]
    return "\n".join(texts) if texts else None


def degraded(text: str, share: float) -> bool:
    """Whether this question gets filler instead of its echo (the rule in the module doc)."""
    if share <= 0.0:
        return False
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def echo_pieces(text: str) -> tuple[str, ...]:
    """`text` as output tokens: one word each with the whitespace before it; joined, exactly
    `text` (trailing whitespace rides on the last piece). An empty text is one empty piece."""
    pieces = _WORD.findall(text)
    if not pieces:
        return (text,)
    pieces[-1] += text[len("".join(pieces)) :]
    return tuple(pieces)
