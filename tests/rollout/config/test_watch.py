"""The config watch: which file changes it sees (edits, prompt files, a Kubernetes ConfigMap's
symlink swap) and when it reloads. Real files in a temporary directory."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from rollout.config import watch
from rollout.config.watch import ConfigWatcher, fingerprint, prompt_files, should_reload
from tests.support.configmap import configmap_swap

CONFIG = """
providers: {p: {base_url: 'http://127.0.0.1:9/v1'}}
routes: [{prefix: /v1, provider: p}]
rollouts:
  - name: r
    baseline: {prompt: {file: prompts/base.md}}
    candidate: {prompt: {file: prompts/cand.md}, model: m2}
"""


def _tree(root: Path) -> Path:
    (root / "prompts").mkdir(parents=True, exist_ok=True)
    (root / "prompts" / "base.md").write_text("Be brief.")
    (root / "prompts" / "cand.md").write_text("Be thorough.")
    (root / "c.yaml").write_text(CONFIG)
    return root / "c.yaml"


A, B, C = ("x", None, None), ("y", None, None), ("z", None, None)


@pytest.mark.parametrize(
    ("attempted", "previous", "current", "reload"),
    [
        ((A,), (A,), (A,), False),  # nothing changed
        ((A,), (A,), (B,), False),  # changed since the last poll: wait until it holds still
        ((A,), (B,), (B,), True),  # changed and settled
        ((A,), (B,), (C,), False),  # still being written
        ((B,), (B,), (B,), False),  # already tried (even if it failed): not again
        ((A,), (B,), (A,), False),  # changed back before it settled: nothing to do
    ],
)
def test_a_change_is_reloaded_once_it_has_settled(
    attempted: tuple, previous: tuple, current: tuple, reload: bool
) -> None:
    assert should_reload(attempted, previous, current) is reload


def test_prompt_files_are_found_even_in_an_invalid_config(tmp_path: Path) -> None:
    assert prompt_files(CONFIG + "unknown_key: 1\n", tmp_path) == [
        tmp_path / "prompts/base.md",
        tmp_path / "prompts/cand.md",
    ]
    assert prompt_files("rollouts: [: broken", tmp_path) == []
    assert prompt_files("rollouts: [{candidate: {prompt: {text: inline}}}]", tmp_path) == []


def test_every_kind_of_change_alters_the_fingerprint(tmp_path: Path) -> None:
    path = _tree(tmp_path)
    seen = [fingerprint(path)]
    path.touch()  # touched, same content: no change
    assert fingerprint(path) == seen[-1]
    (tmp_path / "prompts" / "cand.md").write_text("Be thorough, and cite.")
    seen.append(fingerprint(path))
    path.write_text(CONFIG.replace("m2", "m3"))
    seen.append(fingerprint(path))
    (tmp_path / "prompts" / "cand.md").unlink()
    seen.append(fingerprint(path))
    assert len(set(seen)) == 4
    assert seen[-1][2] == (str(tmp_path / "prompts/cand.md"), None, None)


def test_a_configmap_symlink_swap_is_seen(tmp_path: Path) -> None:
    files = {"c.yaml": CONFIG, "prompts/base.md": "Be brief.", "prompts/cand.md": "Be thorough."}
    configmap_swap(tmp_path, files, "..2026_11_30_10_00_00.1")
    path = tmp_path / "c.yaml"
    first = fingerprint(path)
    assert first[0][1] == str(tmp_path / "..2026_11_30_10_00_00.1" / "c.yaml")
    configmap_swap(tmp_path, {**files, "prompts/cand.md": "New."}, "..2026_11_30_10_05_00.2")
    second = fingerprint(path)
    assert second[2][1] == str(tmp_path / "..2026_11_30_10_05_00.2" / "prompts" / "cand.md")
    assert second[0][2] == first[0][2] and second[2][2] != first[2][2]


async def test_the_watcher_reloads_after_a_swap_and_not_before(tmp_path: Path) -> None:
    files = {"c.yaml": CONFIG, "prompts/base.md": "Be brief.", "prompts/cand.md": "Be thorough."}
    configmap_swap(tmp_path, files, "..first")
    calls: list[str] = []
    changed = asyncio.Event()

    async def reload(trigger: str) -> None:
        calls.append(trigger)
        changed.set()

    watcher = ConfigWatcher(tmp_path / "c.yaml", reload, interval=0.02)
    watcher.start()
    try:
        await asyncio.sleep(0.2)  # ten polls of unchanged files
        assert calls == []
        configmap_swap(tmp_path, {**files, "c.yaml": CONFIG.replace("m2", "m3")}, "..second")
        await asyncio.wait_for(changed.wait(), 5)
        await asyncio.sleep(0.2)  # ten more polls: the same change is not reloaded twice
        assert calls == ["file"]
    finally:
        await watcher.stop()


def test_polling_an_unchanged_config_parses_it_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Parsing a config of a thousand rules takes a good part of a second: twice a second
    # would keep a core busy. Only a changed text is parsed again.
    parsed: list[str] = []
    monkeypatch.setattr(watch, "parse_yaml", lambda text: parsed.append(text) or {})
    path = tmp_path / "c.yaml"
    path.write_text("rollouts: []  # unique to this test\n")
    for _ in range(3):
        fingerprint(path)
    path.write_text("rollouts: []  # unique to this test, edited\n")
    fingerprint(path)
    assert len(parsed) == 2
