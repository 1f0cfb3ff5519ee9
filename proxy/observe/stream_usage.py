"""Token usage on OpenAI streams the client did not ask usage for.

OpenAI (and vLLM) send usage on a stream only with `stream_options.include_usage`. When the
client did not ask, the proxy asks on its behalf and gives the client back the stream it would
have had without asking, byte for byte: the extra final chunk (`"choices": []` with `usage`) is
dropped, and so is the `"usage":null` member the provider then adds to every other chunk (SDKs
would not notice it; raw-SSE clients, caches and signature checks would).

The member is cut out as bytes (proxy/observe/usage_null.py), never by parsing and re-serialising
the chunk: a parse per chunk would cost more than the rest of the relay, and re-serialising could
change other bytes.
"""

from __future__ import annotations

from typing import Any

import orjson

from proxy.observe.usage_null import without_null_usage


def ask_for_usage(payload: dict[str, Any]) -> bool:
    """Add include_usage to a streaming request that lacks it; True when the request changed."""
    if payload.get("stream") is not True:
        return False
    options = payload.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage"):
        return False
    payload["stream_options"] = {**(options or {}), "include_usage": True}
    return True


_KEY = b'"usage":'
_NULL_LAST = b',"usage":null}\n\n'
_KEY_FROM_END = len(_NULL_LAST) - 1  # where `"usage":` starts, counted from the chunk's end


class UsageChunkStripper:
    """Relays SSE bytes as the upstream would have sent them without include_usage. Bytes of an
    event cut across chunks are held until the event is complete (the client could not use half
    an event anyway)."""

    __slots__ = ("_passthrough", "_pending")

    def __init__(self) -> None:
        self._pending = b""
        self._passthrough = False

    def __call__(self, chunk: bytes) -> bytes:
        if self._passthrough or b"\r" in chunk:
            # CR line ends (no provider we know sends them): never hold bytes back waiting for
            # an LF event end; the stream then reaches the client as the provider sent it.
            self._passthrough = True
            tail, self._pending = self._pending, b""
            return tail + chunk
        if not self._pending and chunk.endswith(b"\n\n"):
            # The common case, whole events ending in `,"usage":null}`: that `}` ends the last
            # line of the event, so it closes the top-level object; the find makes sure no
            # other usage key comes before it.
            if chunk.endswith(_NULL_LAST) and chunk.find(_KEY) == len(chunk) - _KEY_FROM_END:
                return chunk[: -len(_NULL_LAST)] + b"}\n\n"
            if _KEY not in chunk:
                return chunk  # nothing to take out: no copy
            data = chunk
        else:
            data = self._pending + chunk
        *events, self._pending = data.split(b"\n\n")
        return b"".join([_restored(e) for e in events])

    def flush(self) -> bytes:
        """What is left at the end of the stream: an event that never got its blank line. It is
        never dropped (a usage chunk not known to be complete is passed on)."""
        tail, self._pending = self._pending, b""
        return without_null_usage(tail) if _KEY in tail else tail


def _restored(event: bytes) -> bytes:
    """One complete event (without its blank line) as the client gets it: with its blank line
    and without the injected member, or nothing at all for the usage-only chunk."""
    if _KEY not in event:
        return event + b"\n\n"
    kept = without_null_usage(event)
    if kept is event and _is_usage_only(event):
        return b""
    return kept + b"\n\n"


def _is_usage_only(event: bytes) -> bool:
    """The final chunk include_usage adds. Parsed, but only when a usage key is there and is not
    a removable null: about once per stream."""
    if not event.startswith(b"data:"):
        return False
    try:
        chunk = orjson.loads(event[5:])
    except orjson.JSONDecodeError:
        return False
    return isinstance(chunk, dict) and chunk.get("choices") == [] and bool(chunk.get("usage"))
