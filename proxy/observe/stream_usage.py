"""Token usage on OpenAI streams the client did not ask usage for.

OpenAI (and vLLM) send usage on a stream only with `stream_options.include_usage`. When the
client did not ask, the proxy asks on its behalf and removes the extra final chunk
(`"choices": []` with `usage`) before it reaches the client, whose SDK then parses exactly the
stream it asked for. (With include_usage, providers also add `"usage": null` to each chunk; SDKs
parse that as the absent field it stands for.)
"""

from __future__ import annotations

from typing import Any

import orjson


def ask_for_usage(payload: dict[str, Any]) -> bool:
    """Add include_usage to a streaming request that lacks it; True when the request changed."""
    if payload.get("stream") is not True:
        return False
    options = payload.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage"):
        return False
    payload["stream_options"] = {**(options or {}), "include_usage": True}
    return True


class UsageChunkStripper:
    """Relays SSE bytes, dropping the usage-only chunk. Bytes of an event cut across chunks are
    held until the event is complete (the client could not use half an event anyway)."""

    __slots__ = ("_passthrough", "_pending")

    def __init__(self) -> None:
        self._pending = b""
        self._passthrough = False

    def __call__(self, chunk: bytes) -> bytes:
        if self._passthrough or b"\r" in chunk:
            # CR line ends (no provider we know sends them): never hold bytes back waiting for
            # an LF event end; the usage chunk then reaches the client as the provider sent it.
            self._passthrough = True
            tail, self._pending = self._pending, b""
            return tail + chunk
        if not self._pending and chunk.endswith(b"\n\n") and not _may_hold_usage(chunk):
            return chunk  # the common case: whole events, none with usage: no copy
        data = self._pending + chunk
        *events, self._pending = data.split(b"\n\n")
        kept = [e for e in events if not (_may_hold_usage(e) and _is_usage_only(e))]
        return b"".join(e + b"\n\n" for e in kept)

    def flush(self) -> bytes:
        """What is left at the end of the stream: an event that never got its blank line."""
        tail, self._pending = self._pending, b""
        return tail


def _may_hold_usage(data: bytes) -> bool:
    """Whether any event in `data` carries a usage that is not null (cheap byte counts)."""
    usages = data.count(b'"usage"')
    return usages > 0 and usages > data.count(b'"usage":null') + data.count(b'"usage": null')


def _is_usage_only(event: bytes) -> bool:
    if not event.startswith(b"data:"):
        return False
    try:
        chunk = orjson.loads(event[5:])
    except orjson.JSONDecodeError:
        return False
    return isinstance(chunk, dict) and chunk.get("choices") == [] and bool(chunk.get("usage"))
