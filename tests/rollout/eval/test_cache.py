"""The eval's answer cache (rollout/eval/cache.py): keys, round trips, what is never kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollout.eval.cache import CachedAnswer, ResponseCache, cache_key

EXPECTED_KEY = "4d8075e812755294d67d031301fbfcd1dab635b8e64df4718077cd9a84cb8248"
ANSWER = CachedAnswer(200, None, "application/json", b'{"ok": true}', 0.01, None, 0.05)


def test_keys_are_fixed_and_tell_every_part_apart() -> None:
    key = cache_key("openai", "gpt-4o", "/chat/completions", b"{}")
    assert key == EXPECTED_KEY  # fixed: a changed key would silently empty every cache
    assert len(key) == 64 and key == cache_key("openai", "gpt-4o", "/chat/completions", b"{}")
    others = {
        cache_key("openai2", "gpt-4o", "/chat/completions", b"{}"),
        cache_key("openai", "gpt-4o-mini", "/chat/completions", b"{}"),
        cache_key("openai", "gpt-4o", "/responses", b"{}"),
        cache_key("openai", "gpt-4o", "/chat/completions", b"{ }"),
        cache_key("openai", None, "/chat/completions", b"{}"),
        cache_key("opena", "igpt-4o", "/chat/completions", b"{}"),  # length-prefixed parts
    }
    assert key not in others and len(others) == 6


def test_round_trip(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    assert cache.get("ab" * 32) is None
    cache.put("ab" * 32, ANSWER)
    assert cache.get("ab" * 32) == ANSWER
    assert (cache.hits, cache.misses) == (1, 1)


@pytest.mark.parametrize("status", [429, 500, 404, 302])
def test_an_error_is_never_kept(tmp_path: Path, status: int) -> None:
    cache = ResponseCache(tmp_path)
    cache.put("cd" * 32, CachedAnswer(status, None, None, b"no", None, None, 0.1))
    assert cache.get("cd" * 32) is None and not list(tmp_path.rglob("*.json"))


def test_an_unreadable_entry_is_a_miss(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    cache.put("ef" * 32, ANSWER)
    next(tmp_path.rglob("*.json")).write_text("{truncated")
    assert cache.get("ef" * 32) is None
