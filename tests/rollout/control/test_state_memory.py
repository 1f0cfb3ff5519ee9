"""What a process does with a state document after the store lost its data: a table."""

from __future__ import annotations

from typing import Any

import pytest

from rollout.control.state_memory import Known, after_read, restored_doc, state_lost

DOC = {"version": "v1", "weight": 0.7, "max_weight": 0.7, "killed": False, "epoch": 2}
OLD, NEW = "gen-old", "gen-new"


def _restored(from_rev: int, rev: int = 1, generation: str = OLD) -> dict[str, Any]:
    return DOC | {"restored": {"generation": generation, "from_rev": from_rev, "rev": rev}}


@pytest.mark.parametrize(
    ("known", "doc", "rev", "generation", "step"),
    [
        # first sight: nothing to compare with
        (None, None, 0, NEW, "keep"),
        (None, DOC, 4, NEW, "keep"),
        # same generation: whatever is stored is what people and the controller wrote
        (Known(DOC, 4, NEW), DOC | {"weight": 0.0}, 5, NEW, "keep"),
        (Known(DOC, 4, NEW), None, 0, NEW, "keep"),  # deleted on purpose
        # the store lost its data and the document with it: write back what was known
        (Known(DOC, 4, OLD), None, 0, NEW, "restore"),
        # ... but a document known to be absent stays absent (the config's state goes on)
        (Known(None, 0, OLD), None, 0, NEW, "keep"),
        # another process wrote it back first: from the same revision, or a newer one
        (Known(DOC, 4, OLD), _restored(4), 1, NEW, "keep"),
        (Known(DOC, 4, OLD), _restored(5), 1, NEW, "keep"),
        # ... from an older revision than known here, nobody wrote since: the newer wins
        (Known(DOC, 6, OLD), _restored(4), 1, NEW, "correct"),
        # ... but once someone wrote after it, or from another generation's lineage: keep
        (Known(DOC, 6, OLD), _restored(4), 2, NEW, "keep"),
        (Known(DOC, 6, OLD), _restored(4, generation="gen-other"), 1, NEW, "keep"),
        # someone wrote a fresh state after the loss (no written-back mark): keep it
        (Known(DOC, 6, OLD), DOC | {"weight": 0.1}, 1, NEW, "keep"),
    ],
)
def test_after_read(
    known: Known | None, doc: dict[str, Any] | None, rev: int, generation: str, step: str
) -> None:
    assert after_read(known, doc, rev, generation) == step


def test_a_written_back_document_is_the_known_one_with_its_origin() -> None:
    doc = restored_doc(Known(DOC | {"restored": {"old": 1}}, 7, OLD), 1, "replica a", 5.0)
    origin = {"generation": OLD, "from_rev": 7, "rev": 1, "by": "replica a", "at": 5.0}
    assert doc == DOC | {"restored": origin}  # max_weight and epoch kept: stickiness too
    with pytest.raises(ValueError, match="nothing known"):
        restored_doc(Known(None, 0, OLD), 1, "a", 0.0)


@pytest.mark.parametrize(
    ("lost_version", "current", "version", "lost"),
    [
        (None, None, "v1", False),  # no loss seen (or the document was known to be absent)
        ("v1", DOC, "v1", False),  # known, and written back
        ("v1", None, "v1", False),  # known: it is being written back
        ("v1", None, "v2", True),  # the config moved to v2 and nothing of v2 was known
        ("v1", DOC, "v2", True),  # v1's state written back: says nothing of v2
        ("v1", DOC | {"version": "v2"}, "v2", False),  # someone wrote v2's state since
    ],
)
def test_state_lost(
    lost_version: str | None, current: dict[str, Any] | None, version: str, lost: bool
) -> None:
    assert state_lost(lost_version, current, version) is lost
