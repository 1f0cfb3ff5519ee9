"""The report's renderings (rollout/eval/render.py) read one document and say the same thing."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from rollout.eval.render import junit, markdown, summary


def doc(verdict: str = "fail", stopped: str | None = None) -> dict:
    gates = [
        {
            "gate": "expect_pass_rate",
            "metric": "expect_pass_rate",
            "unit": "rate",
            "class": "primary",
            "verdict": "fail",
            "bound": "max_delta_to_baseline 0.05",
            "tested": "baseline - candidate",
            "baseline": 1.0,
            "candidate": 0.785,
            "interval": {"value": 0.215, "low": 0.16, "high": 0.277},
            "p_worse": 1e-9,
            "samples": 200,
            "reason": "past 0.05",
            "waived": None,
        },
        {
            "gate": "latency_p95",
            "metric": "latency_p95",
            "unit": "seconds",
            "class": "primary",
            "verdict": "inconclusive",
            "bound": "max_ratio_to_baseline 1.2",
            "tested": "candidate / baseline",
            "baseline": 0.0123,
            "candidate": 0.0145,
            "interval": {"value": 1.18, "low": 1.01, "high": 1.33},
            "p_worse": None,
            "samples": 200,
            "reason": "straddles",
            "waived": None,
        },
        {
            "gate": "disagreement_text",
            "metric": "disagreement_text",
            "unit": "rate",
            "class": "secondary",
            "verdict": "live_only",
            "bound": "max 0.1",
            "tested": "",
            "baseline": None,
            "candidate": None,
            "interval": None,
            "p_worse": None,
            "samples": 0,
            "reason": "live",
            "waived": None,
        },
    ]
    return {
        "verdict": verdict,
        "exit_code": 1,
        "reasons": ["expect_pass_rate: fail"],
        "rollout": "r",
        "version": "abcdef1234567890",
        "tier": "prod",
        "dataset": {"path": "d.jsonl", "digest": "0123456789abcdef", "cases": 200},
        "repeat": 1,
        "run": {
            "calls": 400,
            "cache_hits": 200,
            "spent_usd": 0.5,
            "estimate_usd": 1.0,
            "seconds": 2.0,
            "stopped": stopped,
        },
        "gates": gates,
        "arms": {},
        "slices": [],
        "regressions": [
            {
                "case": "c1",
                "tags": ["billing"],
                "request": {},
                "failed": ['missing "A-1"'],
                "baseline": {
                    "model": "a",
                    "error": None,
                    "refused": False,
                    "text": "A-1\nok | <b>",
                },
                "candidate": {"model": "b", "error": None, "refused": False, "text": "nope"},
            },
        ],
    }


def test_markdown_puts_the_verdict_first_and_reads_as_people_do() -> None:
    text = markdown(doc())
    assert text.startswith("### `rollout eval` r: ❌ **fail**")
    assert "| expect_pass_rate | primary | max_delta_to_baseline 0.05 | 100.0% | 78.5% |" in text
    assert "+21.5 pp (+16.0 pp … +27.7 pp) | **FAIL** |" in text
    assert "| 12.3 ms | 14.5 ms | candidate / baseline | 1.18x (1.01x … 1.33x) |" in text
    # an answer's newlines and pipes must not break its table row; HTML is escaped
    assert "<pre>A-1<br>ok &#124; &lt;b></pre>" in text
    assert "live only" in text


def test_junit_lists_judged_gates_as_cases() -> None:
    suite = ET.fromstring(junit(doc()).split("?>", 1)[1])
    assert suite.get("tests") == "2" and suite.get("failures") == "1"
    assert suite.get("skipped") == "1"
    names = [c.get("name") for c in suite.iter("testcase")]
    assert names == ["expect_pass_rate", "latency_p95"]


def test_a_stopped_run_is_an_error_case_in_junit_and_said_in_markdown() -> None:
    stopped = doc("could_not_tell", stopped="cost cap reached")
    suite = ET.fromstring(junit(stopped).split("?>", 1)[1])
    assert suite.get("errors") == "1"
    assert "**The run stopped early:** cost cap reached" in markdown(stopped)


def test_summary_has_a_line_per_gate() -> None:
    lines = summary(doc()).splitlines()
    assert lines[0] == "rollout eval r: FAIL"
    assert (
        sum(line.lstrip().startswith(("fail", "inconclusive", "live_only")) for line in lines) == 3
    )
