"""Cut the `"usage":null` member that include_usage adds out of one SSE event, as bytes.

Recognised, exactly one `"usage":` key in the event, its value `null` (one optional space after
the colon, as Python's json.dumps writes it), and one of:

- a later member: `,"usage":null` or `, "usage": null`, followed on its line only by scalar
  members and the closing `}` (so it is a top-level member: a nested one would be followed by
  more closing brackets);
- the first member: `{"usage":null,` opening the event's first `data:` line.

Anything else is returned unchanged (the very same object), never guessed at.
"""

from __future__ import annotations

import re

_KEY = b'"usage":'
_NULL = b"null"
# What may follow a top-level member up to the end of its line: scalar members, then `}`.
_REST = re.compile(
    rb'(?:, ?"[^"\\]*": ?(?:"(?:[^"\\]|\\.)*"|-?[0-9][0-9.eE+-]*|null|true|false))*\}'
)


def without_null_usage(event: bytes) -> bytes:
    at = event.find(_KEY)
    if at < 0 or event.find(_KEY, at + 1) >= 0:
        return event  # none, or two: which one was added cannot be told without a parse
    end = at + len(_KEY)
    if event[end : end + 1] == b" ":
        end += 1
    if not event.startswith(_NULL, end):
        return event
    end += len(_NULL)
    line_end = event.find(b"\n", end)
    if line_end < 0:
        line_end = len(event)
    start = _separator_before(event, at)
    if start >= 0:
        if event[end:line_end] == b"}" or _REST.fullmatch(event, end, line_end):
            return event[:start] + event[end:]
        return event
    if event[at - 1 : at] == b"{" and _opens_first_data_line(event, at - 1):
        if event.startswith(b", ", end):
            return event[:at] + event[end + 2 :]
        if event.startswith(b",", end):
            return event[:at] + event[end + 1 :]
    return event


def _separator_before(event: bytes, at: int) -> int:
    """Where the `,` or `, ` right before the key starts; -1 when there is none."""
    if at >= 2 and event[at - 2 : at] == b", ":
        return at - 2
    if at >= 1 and event[at - 1 : at] == b",":
        return at - 1
    return -1


def _opens_first_data_line(event: bytes, brace: int) -> bool:
    """Whether the `{` at `brace` starts the JSON text: the value of the event's first data
    line."""
    line = event.rfind(b"\n", 0, brace) + 1
    return event[line:brace] in (b"data:", b"data: ") and event.find(b"data:") == line
