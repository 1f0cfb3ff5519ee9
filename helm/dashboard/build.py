"""Build the chart's Grafana dashboard (helm/llm-rollout/dashboards/llm-rollout.json).

    python3 helm/dashboard/build.py           # write the JSON
    python3 helm/dashboard/build.py --check   # exit 1 when the committed JSON is out of date

The panels and their queries are the tables in panels.py and controller_panels.py; this file only
lays them out.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from panel_model import DATASOURCE, Panel
from panels import ROWS

OUTPUT = Path(__file__).resolve().parents[1] / "llm-rollout" / "dashboards" / "llm-rollout.json"


def variable(name: str, label: str, definition: str, *, include_all: bool) -> dict:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "definition": definition,
        "query": definition,  # the legacy string form: every Grafana version reads it
        "refresh": 2,
        "sort": 1,
        "multi": include_all,
        "includeAll": include_all,
        **({"allValue": ".*"} if include_all else {}),
    }


TEMPLATING = [
    {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus"},
    variable("rollout", "Rollout", "label_values(llm_rollout_weight, rollout)", include_all=False),
    variable(
        "arm",
        "Arm",
        'label_values(llm_rollout_requests_total{rollout="$rollout"}, arm)',
        include_all=True,
    ),
    variable(
        "role",
        "Role",
        'label_values(llm_rollout_requests_total{rollout="$rollout"}, role)',
        include_all=True,
    ),
]


def panel_json(panel: Panel, panel_id: int, grid: dict) -> dict:
    body: dict = {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "gridPos": grid,
    }
    if panel.kind == "text":
        return {**body, "options": {"mode": "markdown", "content": panel.description}}
    defaults: dict = {"unit": panel.unit}
    if panel.mappings:
        defaults["mappings"] = panel.mappings
    if panel.custom:
        defaults["custom"] = panel.custom
    targets = [
        {"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": expr, "legendFormat": legend}
        for i, (expr, legend) in enumerate(panel.targets)
    ]
    return {
        **body,
        "datasource": DATASOURCE,
        "fieldConfig": {"defaults": defaults, "overrides": panel.overrides},
        **({"options": panel.options} if panel.options else {}),
        "targets": targets,
    }


def dashboard() -> dict:
    panels: list[dict] = []
    y = 0
    for row in ROWS:
        panels.append(
            {
                "id": len(panels) + 1,
                "type": "row",
                "title": row.title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                "panels": [],
            }
        )
        y += 1
        width = 24 // min(len(row.panels), 3)
        for i, panel in enumerate(row.panels):
            grid = {"h": 8, "w": width, "x": (i * width) % 24, "y": y + 8 * (i * width // 24)}
            panels.append(panel_json(panel, len(panels) + 1, grid))
        y += 8 * ((len(row.panels) * width + 23) // 24)
    return {
        "uid": "llm-rollout",
        "title": "llm-rollout",
        "description": "One rollout's baseline and candidate side by side (docs/metrics.md).",
        "tags": ["llm-rollout"],
        "editable": True,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-3h", "to": "now"},
        "timezone": "browser",
        "annotations": {"list": []},
        "templating": {"list": TEMPLATING},
        "panels": panels,
    }


def render() -> str:
    return json.dumps(dashboard(), indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the file is out of date")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not OUTPUT.exists() or OUTPUT.read_text() != text:
            print(f"{OUTPUT} is out of date: run python3 helm/dashboard/build.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
