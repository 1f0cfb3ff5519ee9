"""Live rollout state from its store document: table tests."""

from __future__ import annotations

import pytest

from rollout.control.live_state import LiveState, initial_state, state_from_doc, state_to_doc

DEFAULT = initial_state(0.05, False)


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (None, DEFAULT),
        ({"version": "old", "weight": 0.5}, DEFAULT),  # another candidate: ignored
        ({"version": "v1", "weight": 0.25}, LiveState(0.25, 0.25, False, 0, True)),
        (
            {"version": "v1", "weight": 0.1, "max_weight": 0.5, "killed": True, "epoch": 3},
            LiveState(0.1, 0.5, True, 3, True),
        ),
        # max_weight below weight cannot be: the weight is the floor
        ({"version": "v1", "weight": 0.3, "max_weight": 0.1}, LiveState(0.3, 0.3, False, 0, True)),
        ({"version": "v1", "weight": 1}, LiveState(1.0, 1.0, False, 0, True)),
    ],
)
def test_state_from_doc(doc: dict | None, expected: LiveState) -> None:
    assert state_from_doc(doc, "v1", DEFAULT) == expected


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"version": "v1"}, "weight must be a number between 0 and 1, got None"),
        ({"version": "v1", "weight": 1.5}, "weight must be a number between 0 and 1, got 1.5"),
        ({"version": "v1", "weight": True}, "weight must be a number between 0 and 1, got True"),
        ({"version": "v1", "weight": "0.5"}, "weight must be a number between 0 and 1, got '0.5'"),
        ({"version": "v1", "weight": 0.1, "killed": "yes"}, "killed must be true or false"),
        ({"version": "v1", "weight": 0.1, "epoch": -1}, "epoch must be a whole number >= 0"),
        ({"version": "v1", "weight": 0.1, "phase": 3}, "phase must be a string, got 3"),
    ],
)
def test_malformed_docs_are_refused(doc: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        state_from_doc(doc, "v1", DEFAULT)


def test_to_doc_keeps_other_fields_of_the_same_version_only() -> None:
    state = LiveState(0.2, 0.5, False, 1)
    same = state_to_doc(state, "v1", {"version": "v1", "phase": "ramping", "weight": 0.1})
    assert same == {
        "version": "v1",
        "phase": "ramping",
        "weight": 0.2,
        "max_weight": 0.5,
        "killed": False,
        "epoch": 1,
    }
    other = state_to_doc(state, "v2", {"version": "v1", "phase": "ramping"})
    assert "phase" not in other and other["version"] == "v2"
    # The controller's phase is read (shadow traffic follows it), never written from here.
    assert state_from_doc(same, "v1", DEFAULT) == LiveState(0.2, 0.5, False, 1, True, "ramping")
