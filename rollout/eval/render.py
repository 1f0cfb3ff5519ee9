"""Renderings of the report document: Markdown for a pull-request comment, JUnit XML for CI
systems to list failed gates natively, and the terminal summary. All read the one JSON document
(rollout/eval/report.py), so they can never disagree."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

HEADLINES = {
    "pass": "✅ **pass**: every primary gate met",
    "conditional_pass": "🟡 **conditional pass**: a secondary gate is not met (an approver signs)",
    "fail": "❌ **fail**: a primary gate is shown past its bound",
    "could_not_tell": "⚪ **could not tell**: neither a pass nor a fail",
}
VERDICT_MARKS = {
    "pass": "pass",
    "fail": "**FAIL**",
    "inconclusive": "inconclusive",
    "no_data": "no data",
    "live_only": "live only",
}


def markdown(doc: dict[str, Any]) -> str:
    run, dataset = doc["run"], doc["dataset"]
    lines = [
        f"### `rollout eval` {doc['rollout']}: {HEADLINES[doc['verdict']]}",
        "",
        *[f"- {reason}" for reason in doc["reasons"]],
        "",
        f"Candidate version `{doc['version']}`, tier `{doc['tier']}`, dataset `{dataset['path']}`"
        f" ({dataset['cases']} cases x {doc['repeat']}, sha256 `{dataset['digest'][:12]}`);"
        f" {run['calls']} calls, {run['cache_hits']} from the cache,"
        f" ${run['spent_usd']:.4f} spent.",
    ]
    if run["stopped"]:
        lines.append(f"\n**The run stopped early:** {run['stopped']}")
    lines += _noise(doc.get("noise") or {})
    lines += [
        "",
        "| gate | class | bound | baseline | candidate | tested | estimate (interval) | verdict |",
    ]
    lines.append("| --- | --- | --- | --- | --- | --- | --- | --- |")
    lines += [_gate_row(g) for g in doc["gates"]]
    lines += _scores_section(doc)
    if doc["slices"]:
        lines += ["", "<details><summary>Expectation pass rate by slice</summary>", ""]
        lines += ["| slice | baseline | candidate | delta |", "| --- | --- | --- | --- |"]
        lines += [_slice_row(s) for s in doc["slices"]]
        lines += ["", "</details>"]
    if doc["regressions"]:
        lines += ["", f"#### Worst regressed cases ({len(doc['regressions'])} shown)", ""]
        for r in doc["regressions"]:
            lines += _regression_block(r)
    return "\n".join(lines) + "\n"


def _noise(noise: dict[str, Any]) -> list[str]:
    between, itself = noise.get("between_arms"), noise.get("baseline_self")
    if between is None:
        return []
    line = f"\nThe arms disagree on {_share(between)} of the cases"
    if itself is None:
        return [line + " (`--repeat 2` measures how often the baseline disagrees with itself)."]
    return [line + f"; the baseline disagrees with itself on {_share(itself)} (the noise)."]


def _share(rate: dict[str, Any]) -> str:
    low, high = rate["interval"]
    return f"{rate['rate']:.1%} [{low:.1%}, {high:.1%}] ({rate['disagree']}/{rate['cases']})"


def _num(value: float | None, unit: str = "") -> str:
    """A value as people read it: rates in percent, latencies in ms, ratios with an x."""
    if value is None:
        return "-"
    if value in (float("inf"), float("-inf")):
        return "∞" if value > 0 else "-∞"
    if unit == "rate":
        return f"{value * 100:.1f}%"
    if unit == "pp":
        return f"{value * 100:+.1f} pp"
    if unit == "seconds":
        return f"{value * 1000:.4g} ms"
    if unit == "ratio":
        return f"{value:.3g}x"
    if unit == "usd_per_1k":
        return f"${value:.4g}"
    return f"{value:.4g}"


def _tested_unit(g: dict[str, Any]) -> str:
    """The unit of the interval: a ratio, a difference of rates, or the metric's own."""
    if "/" in g["tested"]:
        return "ratio"
    if " - " in g["tested"] and g["unit"] == "rate":
        return "pp"
    return g["unit"]


def _gate_row(g: dict[str, Any]) -> str:
    interval, unit = g["interval"], _tested_unit(g)
    span = "-"
    if interval is not None:
        span = f"{_num(interval['value'], unit)} ({_num(interval['low'], unit)} … "
        span += f"{_num(interval['high'], unit)})"
    verdict = VERDICT_MARKS[g["verdict"]]
    if g["waived"]:
        verdict += f" (waived: {g['waived']})"
    return (
        f"| {g['gate']} | {g['class']} | {g['bound']} | {_num(g['baseline'], g['unit'])}"
        f" | {_num(g['candidate'], g['unit'])} | {g['tested'] or '-'} | {span} | {verdict} |"
    )


def _score_cell(side: dict[str, Any]) -> str:
    if side["pass_rate"] is not None:
        cell = f"{side['pass_rate']:.1%} pass"
    elif side["mean"] is not None:
        cell = f"mean {side['mean']:.3g}"
    else:
        cell = "-"
    cell += f" ({side['scored']} scored"
    errors = side["errors"]
    return cell + (f", {errors} {'/'.join(side['error_kinds'])})" if errors else ")")


def _scores_section(doc: dict[str, Any]) -> list[str]:
    lines = []
    if doc.get("scores"):
        lines += ["", "| scorer | baseline | candidate |", "| --- | --- | --- |"]
        lines += [
            f"| {s['scorer']} | {_score_cell(s['baseline'])} | {_score_cell(s['candidate'])} |"
            for s in doc["scores"]
        ]
    if doc.get("judges"):
        lines += ["", "| judge | second-judge disagreement | agreement with people | kappa |"]
        lines.append("| --- | --- | --- | --- |")
        lines += [_judge_row(j) for j in doc["judges"]]
    return lines


def _span(span: dict[str, float] | None, unit: str = "rate") -> str:
    if span is None:
        return "-"
    low, high = _num(span["low"], unit), _num(span["high"], unit)
    return f"{_num(span['value'], unit)} ({low} … {high})"


def _judge_row(j: dict[str, Any]) -> str:
    second = "no second judge" if not j["second_judge"] else "no answers judged twice"
    if j["disagreement"] is not None:
        second = f"{_span(j['disagreement'])}, {j['disagreed']}/{j['checked']}"
    people = "no review configured" if not j["reviewing"] else "no labels yet"
    if j["agreement"] is not None:
        people = f"{_span(j['agreement'])}, {j['agreed']}/{j['reviewed']}"
    return f"| {j['scorer']} | {second} | {people} | {_span(j['kappa'], '')} |"


def _rate(side: dict[str, Any]) -> str:
    if side["rate"] is None:
        return "-"
    return f"{side['rate']:.1%} ({side['passed']}/{side['total']})"


def _slice_row(s: dict[str, Any]) -> str:
    base, cand = s["baseline"]["rate"], s["candidate"]["rate"]
    delta = "-" if base is None or cand is None else f"{(cand - base) * 100:+.1f} pp"
    return f"| {s['slice']} | {_rate(s['baseline'])} | {_rate(s['candidate'])} | {delta} |"


def _quote(text: str | None) -> str:
    if text is None:
        return "_(no answer)_"
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace("|", "&#124;")
    return "<pre>" + escaped.replace("\n", "<br>") + "</pre>"  # one table row per answer


def _regression_block(r: dict[str, Any]) -> list[str]:
    tags = f" ({', '.join(r['tags'])})" if r["tags"] else ""
    base, cand = r["baseline"], r["candidate"]
    return [
        f"<details><summary><code>{r['case']}</code>{tags}: {'; '.join(r['failed'])}</summary>",
        "",
        f"| baseline ({base['model']}) | candidate ({cand['model']}) |",
        "| --- | --- |",
        f"| {_quote(base['text'] or base['error'])} | {_quote(cand['text'] or cand['error'])} |",
        "",
        "</details>",
    ]


def junit(doc: dict[str, Any]) -> str:
    """One test case per gate: a failed gate is a failure, an unjudged one is skipped (with
    why), a live-only one is not listed. The suite's name carries the verdict."""
    gates = [g for g in doc["gates"] if g["verdict"] != "live_only"]
    suite = ET.Element(
        "testsuite",
        name=f"rollout eval {doc['rollout']} ({doc['verdict']})",
        tests=str(len(gates)),
        failures=str(sum(g["verdict"] == "fail" and not g["waived"] for g in gates)),
        skipped=str(sum(g["verdict"] in ("inconclusive", "no_data") for g in gates)),
    )
    for g in gates:
        case = ET.SubElement(suite, "testcase", classname=f"gates.{g['class']}", name=g["gate"])
        message = f"{g['bound']}: {g['reason']}"
        if g["verdict"] == "fail" and not g["waived"]:
            ET.SubElement(case, "failure", message=message).text = message
        elif g["verdict"] in ("inconclusive", "no_data"):
            ET.SubElement(case, "skipped", message=f"{g['verdict']}: {message}")
    if doc["run"]["stopped"]:
        case = ET.SubElement(suite, "testcase", classname="run", name="completed")
        ET.SubElement(case, "error", message=doc["run"]["stopped"])
        suite.set("errors", "1")
    return ET.tostring(ET.ElementTree(suite).getroot(), encoding="unicode", xml_declaration=True)


def summary(doc: dict[str, Any]) -> str:
    """A few lines for the terminal."""
    run = doc["run"]
    lines = [f"rollout eval {doc['rollout']}: {doc['verdict'].replace('_', ' ').upper()}"]
    lines += [f"  {reason}" for reason in doc["reasons"]]
    for g in doc["gates"]:
        interval = g["interval"]
        unit = _tested_unit(g)
        span = ""
        if interval is not None:
            low, high = _num(interval["low"], unit), _num(interval["high"], unit)
            span = f"  {g['tested']} {_num(interval['value'], unit)} [{low}, {high}]"
        lines.append(
            f"  {g['verdict']:<12} {g['gate']:<18} {g['bound']:<28}"
            f" base {_num(g['baseline'], g['unit'])} cand {_num(g['candidate'], g['unit'])}{span}"
        )
    for sc in doc.get("scores", ()):
        lines.append(
            f"  score {sc['scorer']:<18} base {_score_cell(sc['baseline'])}"
            f"  cand {_score_cell(sc['candidate'])}"
        )
    lines.append(
        f"  {run['calls']} calls ({run['cache_hits']} cached) in {run['seconds']:.1f}s,"
        f" ${run['spent_usd']:.4f} spent"
    )
    return "\n".join(lines)
