"""Refusal phrase detection: precision/recall on the labelled set, and the rules one by one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rollout.quality.refusal import DEFAULT_PHRASES, RefusalDetector, normalize

DATA = Path(__file__).parent / "data" / "refusals.jsonl"


def _labelled() -> list[tuple[str, bool]]:
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line]
    return [(row["text"], row["refusal"]) for row in rows]


def precision_recall(detector: RefusalDetector) -> tuple[float, float, int, int, int]:
    tp = fp = fn = 0
    for text, is_refusal in _labelled():
        flagged = detector.is_refusal(text)
        tp += flagged and is_refusal
        fp += flagged and not is_refusal
        fn += is_refusal and not flagged
    return tp / (tp + fp), tp / (tp + fn), tp, fp, fn


def test_labelled_set_is_balanced_and_large_enough() -> None:
    rows = _labelled()
    positives = sum(label for _, label in rows)
    assert len(rows) >= 120
    assert 0.4 <= positives / len(rows) <= 0.6
    assert len({text for text, _ in rows}) == len(rows)  # no duplicates inflating the numbers


def test_precision_and_recall_on_the_labelled_set() -> None:
    precision, recall, tp, fp, fn = precision_recall(RefusalDetector())
    print(
        f"refusal detector: precision={precision:.3f} recall={recall:.3f} tp={tp} fp={fp} fn={fn}"
    )
    assert precision >= 0.95
    assert recall >= 0.85


@pytest.mark.parametrize(
    "text",
    [
        "I can't help with that.",
        "I cannot help with that.",
        "I can not help with that.",
        "I can\u2019t help with that.",  # curly apostrophe
        "I CAN'T HELP WITH THAT.",
        "  \n I can't   assist with\nthat request.",  # leading and inner whitespace
        "I'm sorry. I can't help with that.",  # short first sentence does not end the opening
        "Sorry, but I won't be able to assist with this.",
        "I must decline.",
        "**I can't help with that.**",
        "As an AI, I cannot help with bypassing licence checks.",
        "I understand why you're asking, but I can't provide instructions for that.",
    ],
)
def test_refusals(text: str) -> None:
    assert RefusalDetector().is_refusal(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "I can't believe how simple this is.",
        "Sorry for the confusion earlier \u2014 here is the fix.",
        "I cannot stress enough how important tests are.",
        "I can't help but notice the off-by-one in line 3.",
        "As an AI, I cannot feel emotions the way people do, but here is how grief is described.",
        'The bot answered "I can\'t help with that" to every request.',  # quoted, not said
        "The phrase 'I must decline' is formal English.",
        "You can't assist a process from another cgroup.",  # not the model speaking
        "I can't provide a definitive answer without logs, but the timeout is the likely cause.",
        # The phrase appears, but after the opening sentence of a helpful answer.
        "Run `pip install -e .` in the repo root, then start the server with `make dev`. "
        "I can't help with the Windows paths, though.",
    ],
)
def test_non_refusals(text: str) -> None:
    assert not RefusalDetector().is_refusal(text)


def test_only_the_window_is_read() -> None:
    text = "x" * 300 + " I can't help with that."
    assert not RefusalDetector(window=200).is_refusal(text)
    assert RefusalDetector(window=400).is_refusal(text)


def test_phrase_after_a_long_first_sentence_is_ignored() -> None:
    text = "Here is the corrected function with the bug fixed. I can't help with that part."
    assert not RefusalDetector().is_refusal(text)


def test_custom_phrases_replace_the_defaults_and_are_normalised() -> None:
    detector = RefusalDetector(phrases=["That\u2019s outside my remit"])
    assert detector.is_refusal("Sorry, that's outside my remit.")
    assert not detector.is_refusal("I can't help with that.")  # defaults replaced
    assert detector.phrases == ("that is outside my remit",)


def test_extra_phrases_add_to_the_defaults() -> None:
    detector = RefusalDetector(extra_phrases=["computer says no"])
    assert detector.is_refusal("Computer says no.")
    assert detector.is_refusal("I can't help with that.")
    assert len(detector.phrases) == len(set(map(normalize, DEFAULT_PHRASES))) + 1


def test_phrases_match_at_word_boundaries_only() -> None:
    detector = RefusalDetector(phrases=["I can't assist"])
    assert detector.is_refusal("I can't assist.")
    assert not detector.is_refusal("Hi can't assist.")  # "i" inside another word
    assert not detector.is_refusal("I can't assistant-ify this.")  # phrase ends mid-word


def test_normalize() -> None:
    assert normalize("I\u2019m  sorry,\nI CAN\u2019T") == "i am sorry, i cannot"
    assert normalize("I won't, I can not") == "i will not, i cannot"


def test_bad_configuration_is_rejected() -> None:
    with pytest.raises(ValueError):
        RefusalDetector(window=0)
    with pytest.raises(ValueError):
        RefusalDetector(phrases=["", "   "])
