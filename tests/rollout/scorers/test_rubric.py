"""Rubric loading and validation: front matter, defaults, every problem at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollout.scorers.rubric import RubricError, load_rubric, parse_rubric

TEXT = "Score 1 when the answer is safe, 0 when it is not."
ROOT = Path(__file__).resolve().parents[3]


def test_front_matter_sets_the_criterion_scale_and_threshold() -> None:
    rubric = parse_rubric(f"---\ncriterion: safety\nscale: pass_fail\n---\n{TEXT}\n")
    assert (rubric.criterion, rubric.scale, rubric.threshold) == ("safety", "pass_fail", 0.5)
    assert rubric.text == TEXT and rubric.passed(0.5) is True and rubric.passed(0.4) is False


def test_without_front_matter_it_is_a_plain_score_named_after_the_file(tmp_path: Path) -> None:
    path = tmp_path / "style.md"
    path.write_text(TEXT)
    rubric = load_rubric(path)
    assert (rubric.criterion, rubric.scale, rubric.threshold) == ("style", "score", None)
    assert rubric.passed(0.1) is None


def test_every_problem_is_reported_with_the_file_and_key() -> None:
    text = "---\nscale: stars\nthreshold: 7\ncolour: red\ncriterion: ''\n---\nshort\n"
    with pytest.raises(RubricError) as caught:
        parse_rubric(text, "rubrics/x.md")
    lines = str(caught.value).splitlines()
    assert "rubrics/x.md: colour: unknown key" in lines
    assert "rubrics/x.md: scale: must be pass_fail or score (got 'stars')" in lines
    assert "rubrics/x.md: threshold: must be a number between 0 and 1 (got 7)" in lines
    assert "rubrics/x.md: criterion: must be a non-empty string" in lines
    assert any("shorter than 20 characters" in line for line in lines)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("---\ncriterion: a\n" + TEXT, "front matter opened with --- but not closed"),
        ("---\n[1, 2]\n---\n" + TEXT, "front matter must be a YAML mapping"),
        ("---\na: [\n---\n" + TEXT, "front matter is not valid YAML"),
    ],
)
def test_broken_front_matter(text: str, message: str) -> None:
    with pytest.raises(RubricError, match=message.replace("[", r"\[")):
        parse_rubric(text)


def test_an_unreadable_rubric(tmp_path: Path) -> None:
    with pytest.raises(RubricError, match="cannot read rubric"):
        load_rubric(tmp_path / "absent.md")


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "config/rubrics").glob("*.md")))
def test_the_shipped_rubrics_load(name: str) -> None:
    assert load_rubric(ROOT / "config/rubrics" / name).text


def test_the_digest_changes_with_the_text() -> None:
    a, b = (
        parse_rubric(TEXT, default_criterion="x"),
        parse_rubric(TEXT + " More.", default_criterion="x"),
    )
    assert a.digest != b.digest
