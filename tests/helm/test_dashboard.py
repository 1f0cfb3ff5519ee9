"""The Grafana dashboard file: generated from helm/dashboard/panels.py and up to date, well formed
for Grafana, and using only the metric names docs/metrics.md documents."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from rollout.control.controller_metrics import PHASES, VERDICTS
from tests.support.grafana_dashboard import (
    base_name,
    documented_metrics,
    load,
    mapped_texts,
    panels,
    queries,
)

_REPO = Path(__file__).resolve().parents[2]


def test_committed_json_is_what_the_generator_builds() -> None:
    result = subprocess.run(
        [sys.executable, str(_REPO / "helm" / "dashboard" / "build.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_every_metric_name_is_documented() -> None:
    documented = documented_metrics()
    assert len(documented) > 20, "docs/metrics.md's table was not read"
    used = {base_name(m, documented) for q in queries(load()) for m in q.metrics}
    assert used - documented == set()


def test_panels_are_well_formed() -> None:
    dashboard = load()
    every = panels(dashboard)
    ids = [p["id"] for p in every]
    assert len(ids) == len(set(ids))
    for panel in every:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] in ("row", "text"):
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"] and all(t["expr"].strip() for t in panel["targets"])
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
    names = [v["name"] for v in dashboard["templating"]["list"]]
    assert names == ["datasource", "rollout", "arm", "role"]


@pytest.mark.parametrize(
    ("metric", "label", "values"),
    [("llm_rollout_phase", "phase", PHASES), ("llm_rollout_gate_status", "status", VERDICTS)],
)
def test_each_controller_code_shows_the_name_it_stands_for(
    metric: str, label: str, values: tuple[str, ...]
) -> None:
    """The phase and verdict panels turn a value's series into a code and the code back into
    the value's name: every value the controller exports has a code, and each code's mapping
    names the value it was given for (a phase added to rollout/control/decide.py fails here)."""
    coded = [
        (panel, query)
        for panel in panels(load())
        for query in (t["expr"] for t in panel.get("targets", []))
        if metric in query
    ]
    assert len(coded) == 2  # the "now" stat and the timeline
    for panel, query in coded:
        codes = re.findall(label + r'="(\w+)"\} \* (\d+)', query)
        assert sorted(value for value, _ in codes) == sorted(values), panel["title"]
        texts = mapped_texts(panel)
        assert all(texts[code] == value for value, code in codes), panel["title"]
        assert texts["0"] == "no leader"
