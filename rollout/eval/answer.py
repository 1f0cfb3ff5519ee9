"""One arm's answer to one case: what the runner hands to the expectation checks and scorers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Answer:
    """One arm's answer to one case, as the expectation checks and scorers see it."""

    text: str | None  # the whole answer text; None when the call failed
    error: str | None  # the error kind ("http_500", "first_byte_timeout", ...) or None
    refused: bool = False
    tool_calls: tuple[tuple[str, str], ...] = ()  # (name, arguments as a JSON string)
    output_tokens: int | None = None
    json_result: str | None = None  # the proxy's JSON verdict when JSON was asked for
