"""Incremental Server-Sent Events parsing over chunks that may split an event (or a UTF-8
character) anywhere. Works on bytes; an event is decoded only once it is complete."""

from __future__ import annotations

from collections.abc import Iterator


class SseSplitter:
    """Feed raw chunks; get back complete events as (event name, data) pairs."""

    __slots__ = ("_pending",)

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, chunk: bytes) -> Iterator[tuple[bytes, bytes]]:
        data = self._pending + chunk if self._pending else chunk
        held = b""
        if b"\r" in data:  # the spec allows CRLF and CR line ends; providers use LF
            if data.endswith(b"\r"):  # may be half of a CRLF split across chunks
                data, held = data[:-1], b"\r"
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        *complete, pending = data.split(b"\n\n")
        self._pending = pending + held
        for block in complete:
            if block:
                yield parse_event(block)


def parse_event(block: bytes) -> tuple[bytes, bytes]:
    """One event block -> (event name or b"", data lines joined by newlines)."""
    if block.startswith(b"data: ") and b"\n" not in block:  # the common case, one data line
        return b"", block[6:]
    name = b""
    data: list[bytes] = []
    for line in block.split(b"\n"):
        field, _, value = line.partition(b":")
        if value.startswith(b" "):
            value = value[1:]
        if field == b"data":
            data.append(value)
        elif field == b"event":
            name = value
    return name, b"\n".join(data)
