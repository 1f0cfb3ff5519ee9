"""The embedded store keeps documents, the audit log and sticky assignments across restarts."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import pytest

from rollout.store import StoreError, open_store


async def test_documents_and_audit_survive_a_restart(tmp_path: Path) -> None:
    store = open_store(None, tmp_path)
    await store.documents.write("state/checkout", {"phase": "ramping", "weight": 0.05}, 0)
    await store.documents.write("state/checkout", {"phase": "ramping", "weight": 0.25}, 1)
    await store.documents.write("flags", {"kill": False}, 0)
    await store.documents.write("gone", {"x": 1}, 0)
    await store.documents.delete("gone")
    first = await store.audit.append({"rollout": "checkout", "action": "promote"})
    await store.audit.append({"rollout": "search", "action": "pause"})
    await store.close()

    store = open_store(None, tmp_path)
    try:
        assert await store.documents.read("state/checkout") == (
            {"phase": "ramping", "weight": 0.25},
            2,
        )
        assert await store.documents.read("flags") == ({"kill": False}, 1)
        assert await store.documents.read("gone") == (None, 0)
        assert await store.documents.write("state/checkout", {"phase": "paused"}, 2) == 3
        third = await store.audit.append({"rollout": "checkout", "action": "rollback"})
        entries = await store.audit.read()
        assert [e["action"] for e in entries] == ["promote", "pause", "rollback"]
        assert entries[0]["id"] == first
        assert [e["action"] for e in await store.audit.read("checkout")] == ["promote", "rollback"]
        assert _id_key(third) > _id_key(entries[1]["id"])
    finally:
        await store.close()


async def test_a_torn_last_audit_line_is_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = open_store(None, tmp_path)
    await store.audit.append({"rollout": "r", "n": 1})
    await store.audit.append({"rollout": "r", "n": 2})
    await store.close()
    with open(tmp_path / "audit.jsonl", "ab") as fh:  # a crash in the middle of a write
        fh.write(b'{"id":"99-0","rollout":"r","n":3,"ac')

    with caplog.at_level(logging.WARNING, logger="rollout.store"):
        store = open_store(None, tmp_path)
    assert any("audit.jsonl:3" in r.getMessage() for r in caplog.records), caplog.text
    try:
        assert [e["n"] for e in await store.audit.read()] == [1, 2]
        await store.audit.append({"rollout": "r", "n": 4})  # must not be glued to the torn line
    finally:
        await store.close()

    store = open_store(None, tmp_path)
    try:
        assert [e["n"] for e in await store.audit.read("r")] == [1, 2, 4]
    finally:
        await store.close()


async def test_a_failed_document_write_leaves_the_old_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(None, tmp_path)
    await store.documents.write("state", {"v": 1}, 0)

    def crash(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(StoreError):
        await store.documents.write("state", {"v": 2}, 1)
    monkeypatch.undo()
    assert await store.documents.read("state") == ({"v": 1}, 1)
    await store.close()

    store = open_store(None, tmp_path)  # also removes the temp file the crash left behind
    try:
        assert await store.documents.read("state") == ({"v": 1}, 1)
        assert list((tmp_path / "documents").glob(".*.tmp")) == []
        assert await store.documents.write("state", {"v": 2}, 1) == 2
    finally:
        await store.close()


async def test_one_data_dir_one_store(tmp_path: Path) -> None:
    store = open_store(None, tmp_path)
    with pytest.raises(StoreError, match="in use"):
        open_store(None, tmp_path)
    await store.close()
    again = open_store(None, tmp_path)
    await again.close()


def _id_key(entry_id: str) -> tuple[int, int]:
    ms, seq = entry_id.split("-")
    return int(ms), int(seq)


async def test_sticky_assignments_survive_a_restart(tmp_path: Path) -> None:
    store = open_store(None, tmp_path)
    await store.assignments.put_arms("r:v1:0", {"alice": "candidate", "bob": "candidate"}, 3600)
    await store.assignments.put_arms("r:v1:0", {"carol": "candidate"}, 0.001)  # expires at once
    await store.assignments.put_arms("old:v1:0", {"alice": "candidate"}, 3600)
    await store.assignments.clear_arms("old:v1:0")  # a rollback
    await store.close()
    await asyncio.sleep(0.01)  # carol's 1 ms is surely over when the journal is compacted

    store = open_store(None, tmp_path)
    try:
        got = await store.assignments.get_arms("r:v1:0", ["alice", "bob", "carol"])
        assert got == {"alice": "candidate", "bob": "candidate"}
        assert await store.assignments.get_arms("old:v1:0", ["alice"]) == {}
    finally:
        await store.close()
    # Compacted on open: only what is alive is left in the journal.
    lines = (tmp_path / "assignments.jsonl").read_bytes().splitlines()
    assert len(lines) == 1 and b"carol" not in lines[0]


async def test_a_torn_assignment_record_is_skipped(tmp_path: Path) -> None:
    store = open_store(None, tmp_path)
    await store.assignments.put_arms("r:v1:0", {"alice": "candidate"}, 3600)
    await store.close()
    with open(tmp_path / "assignments.jsonl", "ab") as fh:
        fh.write(b'{"put": "r:v1:0", "arms": {"bob": "cand')  # a crash mid-write
    store = open_store(None, tmp_path)
    try:
        got = await store.assignments.get_arms("r:v1:0", ["alice", "bob"])
        assert got == {"alice": "candidate"}
    finally:
        await store.close()


async def test_shadow_pairs_survive_a_restart_and_the_file_stays_bounded(tmp_path: Path) -> None:
    store = open_store(None, tmp_path)
    for n in range(25):
        await store.pairs.add("checkout", {"n": n}, keep=5)
    await store.close()
    lines = (tmp_path / "pairs" / "checkout.jsonl").read_bytes().splitlines()
    assert len(lines) <= 10  # rewritten to the newest 5 whenever it reaches twice that

    with open(tmp_path / "pairs" / "checkout.jsonl", "ab") as fh:
        fh.write(b'{"n": 9')  # a torn last line, as a crash mid-append leaves it
    store = open_store(None, tmp_path)
    try:
        assert [p["n"] for p in await store.pairs.read("checkout", 5)] == [20, 21, 22, 23, 24]
        await store.pairs.add("checkout", {"n": 25}, keep=5)
        assert [p["n"] for p in await store.pairs.read("checkout", 3)] == [23, 24, 25]
    finally:
        await store.close()
