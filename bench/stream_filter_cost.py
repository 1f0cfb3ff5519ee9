"""What the usage filter costs per SSE chunk on an OpenAI stream whose usage the proxy asked for:
a CPU micro-benchmark of the forward stage's relay loop, no servers.

    python bench/stream_filter_cost.py            # ~10 s
    python bench/stream_filter_cost.py --streams 4000 --rounds 9
    # beside another version of the filter, interleaved in the same run:
    git show 4634818:proxy/observe/stream_usage.py > /tmp/old_filter.py
    python bench/stream_filter_cost.py --filter-file /tmp/old_filter.py

The chunks are the fake provider's real chat stream with `include_usage` (every chunk carries
`"usage":null`, then the usage-only chunk), one event per chunk as an LLM sends them. Timed, per
chunk, in several rounds (medians):

- **filter alone**: `UsageChunkStripper` on every chunk;
- **relay without filter**: what forward does per chunk besides it (the observer tap's feed and
  a write into a sink);
- **relay with filter**: the same plus the filter.

The same for `--filter-file` (another version of the filter, e.g. the one before a change) and,
for reference, a filter that parses and re-serialises every chunk. Prints ns/chunk and the
filter's cost as a ratio to the relay without it. The relay here leaves out aiohttp's own write
and the event loop, so the ratio overstates the share of the proxy's real per-chunk CPU
(bench/README.md: ~40 µs per event in the proxy bench). Never fails.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from proxy.fake_provider.openai_chat import chat_events
from proxy.fake_provider.plan import Plan
from proxy.observe.openai_chat import OpenAIChatObserver
from proxy.observe.stream_usage import UsageChunkStripper

WORDS = ["Hello", " there", ",", " café", " and", " 東京", " —", " fine", " words", "."]


def stream_chunks() -> list[bytes]:
    """One 10-word chat stream with include_usage, as the fake provider writes it."""
    plan = Plan("text", WORDS, "stop", prompt_tokens=12, cached_tokens=0, reasoning_tokens=0)
    events = chat_events(plan, "chatcmpl-" + "0" * 24, 1_700_000_000, "gpt-4o-mini", True, False)
    return [data for data, _ in events]


Filter = Callable[[], Any]  # makes one stripper per stream


def load_filter(path: str) -> Filter:
    """`UsageChunkStripper` from another version of proxy/observe/stream_usage.py."""
    spec = importlib.util.spec_from_file_location("other_stream_usage", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.UsageChunkStripper  # type: ignore[no-any-return]


class ParsePerChunk:
    """Reference only: the obvious filter, a parse and a dump per chunk (not byte-exact in
    general: it re-serialises whatever the provider wrote)."""

    def __call__(self, chunk: bytes) -> bytes:
        if chunk == b"data: [DONE]\n\n":
            return chunk
        doc = orjson.loads(chunk[6:])
        if doc.get("choices") == []:
            return b""
        doc.pop("usage", None)
        return b"data: " + orjson.dumps(doc) + b"\n\n"

    def flush(self) -> bytes:
        return b""


def filter_only(chunks: list[bytes], streams: int, make: Filter) -> None:
    for _ in range(streams):
        relay = make()
        for chunk in chunks:
            relay(chunk)
        relay.flush()


def relay_loop(chunks: list[bytes], streams: int, make: Filter | None) -> None:
    """The per-chunk body of Forward._stream with a list as the client."""
    for _ in range(streams):
        taps = [OpenAIChatObserver(True, capture=False)]
        relay = make() if make is not None else None
        sink: list[bytes] = []
        write = sink.append
        for tap in taps:
            tap.start(200, None)
        for chunk in chunks:
            for tap in taps:
                tap.feed(chunk)
            if relay is not None:
                chunk = relay(chunk)
                if not chunk:
                    continue
            write(chunk)
        if relay is not None and (tail := relay.flush()):
            write(tail)


def ns_per_chunk(work: Callable[[], None], chunks: int) -> float:
    start = time.perf_counter()
    work()
    return (time.perf_counter() - start) / chunks * 1e9


def main(args: argparse.Namespace) -> None:
    filters: dict[str, Filter] = {"this tree": UsageChunkStripper}
    if args.filter_file:
        filters[args.filter_file] = load_filter(args.filter_file)
    filters["parse per chunk (reference)"] = ParsePerChunk
    chunks = stream_chunks()
    n, s = len(chunks) * args.streams, args.streams
    relay: list[float] = []
    alone: dict[str, list[float]] = {name: [] for name in filters}
    with_filter: dict[str, list[float]] = {name: [] for name in filters}
    for r in range(args.rounds):  # interleaved, so that drift on the machine hits all alike
        relay.append(ns_per_chunk(lambda: relay_loop(chunks, s, None), n))
        for name, make in filters.items() if r % 2 == 0 else reversed(filters.items()):
            alone[name].append(ns_per_chunk(lambda m=make: filter_only(chunks, s, m), n))
            with_filter[name].append(ns_per_chunk(lambda m=make: relay_loop(chunks, s, m), n))
    base = statistics.median(relay)
    print(f"{len(chunks)} chunks per stream, {s} streams, median of {args.rounds} rounds")
    print(f"relay without filter: {base:.0f} ns/chunk")
    print("| filter | filter alone ns/chunk | ratio to relay without | relay with filter ns/chunk "
          "| (with - without) / without |")  # fmt: skip
    print("|---|--:|--:|--:|--:|")
    for name in filters:
        a, w = statistics.median(alone[name]), statistics.median(with_filter[name])
        print(f"| {name} | {a:.0f} | {a / base:.3f} | {w:.0f} | {(w - base) / base:.3f} |")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--filter-file", help="also time UsageChunkStripper from this file")
    return parser.parse_args(argv)


if __name__ == "__main__":
    main(parse_args(None))
