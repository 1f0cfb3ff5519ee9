"""What a process remembers of a state document, and what to do when the store lost it: pure.

Every process that reads or writes a rollout's state document (the controller, every replica)
remembers the last one it saw, with its revision and the store generation it was seen in
(rollout/control/store_generation.py). When the generation changes, the store lost its data
since, and the document just read is compared with what was known:

- nothing stored any more, a document was known: write it back (`restore`);
- another process wrote back an older revision of the same generation than this one knew, and
  nobody wrote since: write this one over it (`correct`), so that the newest known state wins
  whichever process happened to restore first;
- otherwise use what was read (`keep`).

A document known to be absent is knowledge too: a rollout nobody had changed at run time simply
goes on from its config. A document that disappears while the generation stays the same was
deleted on purpose, and stays deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Doc = dict[str, Any]
RESTORED = "restored"  # the field a written-back document carries: where it came from

Step = Literal["keep", "restore", "correct"]


@dataclass(frozen=True, slots=True)
class Known:
    doc: Doc | None  # None: known to be absent
    rev: int
    generation: str


def after_read(known: Known | None, doc: Doc | None, rev: int, generation: str) -> Step:
    """What to do with `doc` (at `rev`), just read in store generation `generation`."""
    if known is None or known.doc is None or known.generation == generation:
        return "keep"
    if doc is None:
        return "restore"
    restored = doc.get(RESTORED)
    if (
        isinstance(restored, dict)
        and restored.get("rev") == rev  # nobody wrote since it was written back
        and restored.get("generation") == known.generation
        and isinstance(restored.get("from_rev"), int)
        and known.rev > restored["from_rev"]
    ):
        return "correct"
    return "keep"


def restored_doc(known: Known, rev: int, actor: str, now: float) -> Doc:
    """`known.doc`, to be written back at revision `rev`, saying where it came from."""
    if known.doc is None:
        raise ValueError("nothing known to write back")
    origin = {
        "generation": known.generation,
        "from_rev": known.rev,
        "rev": rev,
        "by": actor,
        "at": now,
    }
    return {**known.doc, RESTORED: origin}


def state_lost(lost_version: str | None, current: Doc | None, version: str) -> bool:
    """Whether `version` of a rollout must hold on the baseline: the store lost its data while
    this process knew the rollout at `lost_version` (None: no loss seen, or the document was
    known to be absent), that is not `version`, and no document of `version` was seen since.
    Nobody can tell then whether `version` had been ramped, killed or rolled back."""
    if lost_version is None or lost_version == version:
        return False
    return current is None or current.get("version") != version
