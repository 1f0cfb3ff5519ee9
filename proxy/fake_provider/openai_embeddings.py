"""OpenAI POST /v1/embeddings: deterministic unit vectors, as float lists or base64 float32.

The official SDK asks for `encoding_format: base64` unless told otherwise and decodes the
little-endian float32 bytes itself; `float` gives plain JSON lists.
"""

from __future__ import annotations

import base64
import math
import random
import sys
import zlib
from array import array
from functools import lru_cache

from aiohttp import web

from proxy.fake_provider.common import openai_request, prelude
from proxy.fake_provider.errors import error_response, json_response
from proxy.fake_provider.text import count_words

MAX_DIMENSIONS = 8192
_RNG = random.Random(0)
_BASE = array("f", (_RNG.uniform(-1.0, 1.0) for _ in range(2 * MAX_DIMENSIONS)))


@lru_cache(maxsize=4096)
def vector(offset: int, dims: int) -> tuple[list[float], str]:
    """The unit vector for a text hashed to `offset`, as floats and as base64 float32."""
    offset %= MAX_DIMENSIONS
    chunk = _BASE[offset : offset + dims]
    norm = math.sqrt(sum(x * x for x in chunk)) or 1.0
    unit = array("f", (x / norm for x in chunk))
    raw = unit.tobytes() if sys.byteorder == "little" else _swapped(unit)
    return unit.tolist(), base64.b64encode(raw).decode()


def _swapped(values: array) -> bytes:
    copy = array("f", values)
    copy.byteswap()
    return copy.tobytes()


def _inputs(raw: object) -> list[tuple[bytes, int]] | None:
    """Each input as (bytes to hash, token count); None when the input is not valid."""
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        return None
    if all(isinstance(t, int) for t in raw):
        return [(repr(raw).encode(), len(raw))]
    out: list[tuple[bytes, int]] = []
    for item in raw:
        if isinstance(item, str) and item:
            out.append((item.encode(), count_words(item)))
        elif isinstance(item, list) and item and all(isinstance(t, int) for t in item):
            out.append((repr(item).encode(), len(item)))
        else:
            return None
    return out


async def embeddings(request: web.Request) -> web.StreamResponse:
    parsed = openai_request(request)
    if isinstance(parsed, web.Response):
        return parsed
    body, model = parsed
    inputs = _inputs(body.get("input"))
    if inputs is None:
        return error_response("openai", 400, "'$.input' is invalid.")
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        return error_response("openai", 400, "'encoding_format' must be 'float' or 'base64'.")
    knobs = await prelude(request, "openai", model, False)
    if isinstance(knobs, web.Response):
        return knobs
    dims = body.get("dimensions")
    if not isinstance(dims, int) or isinstance(dims, bool) or not 1 <= dims <= MAX_DIMENSIONS:
        dims = knobs.embedding_dimensions
    pick = 1 if encoding == "base64" else 0
    data = [
        {
            "object": "embedding",
            "index": i,
            "embedding": vector((zlib.crc32(text) ^ knobs.seed) % MAX_DIMENSIONS, dims)[pick],
        }
        for i, (text, _) in enumerate(inputs)
    ]
    tokens = sum(n for _, n in inputs)
    return json_response(
        {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )
