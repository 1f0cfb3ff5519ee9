"""Read the chart's Grafana dashboard as an operator's Grafana would: its panels, their PromQL,
its template variables, and the metric names they use; and the names docs/metrics.md documents."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_REPO = Path(__file__).resolve().parents[2]
DASHBOARD = _REPO / "helm" / "llm-rollout" / "dashboards" / "llm-rollout.json"
METRICS_DOC = _REPO / "docs" / "metrics.md"
_METRIC = re.compile(r"\bllm_rollout_[a-z0-9_]+")
_HISTOGRAM_SERIES = ("_bucket", "_count", "_sum")
_LABEL_VALUES = re.compile(r"^label_values\((?P<match>.+),\s*(?P<label>\w+)\)$")


@dataclass(frozen=True)
class Query:
    panel: str
    expr: str

    @property
    def metrics(self) -> set[str]:
        return set(_METRIC.findall(self.expr))


@dataclass(frozen=True)
class LabelValues:
    """A `label_values(match, label)` variable: what Grafana asks /api/v1/label/<label>/values."""

    name: str
    match: str
    label: str


def load() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, rows' nested panels included, rows themselves too."""
    found: list[dict[str, Any]] = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def queries(dashboard: dict[str, Any]) -> list[Query]:
    return [
        Query(panel["title"], target["expr"])
        for panel in panels(dashboard)
        for target in panel.get("targets", [])
    ]


def label_value_variables(dashboard: dict[str, Any]) -> list[LabelValues]:
    found = []
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            parsed = _LABEL_VALUES.match(variable["definition"])
            assert parsed, f"variable {variable['name']}: not label_values(...)"
            found.append(LabelValues(variable["name"], parsed["match"], parsed["label"]))
    return found


def substitute(text: str, values: dict[str, str]) -> str:
    """Grafana's variable interpolation, for `$name` and `${name}` (longest names first)."""
    for name in sorted(values, key=len, reverse=True):
        text = text.replace("${" + name + "}", values[name]).replace("$" + name, values[name])
    return text


def documented_metrics() -> set[str]:
    """The names in the first column of docs/metrics.md's table."""
    return set(re.findall(r"^\| `(llm_rollout_[a-z0-9_]+)`", METRICS_DOC.read_text(), re.M))


def base_name(series: str, documented: set[str]) -> str:
    """A histogram's `_bucket`/`_count`/`_sum` series stand for the documented histogram."""
    for suffix in _HISTOGRAM_SERIES:
        if series.endswith(suffix) and series.removesuffix(suffix) in documented:
            return series.removesuffix(suffix)
    return series


def panel_titled(dashboard: dict[str, Any], title: str) -> dict[str, Any]:
    (found,) = [p for p in panels(dashboard) if p["title"] == title]
    return found


def mapped_texts(panel: dict[str, Any]) -> dict[str, str]:
    """The panel's value mappings as {value: text}: what Grafana shows instead of the number."""
    return {
        value: option["text"]
        for mapping in panel["fieldConfig"]["defaults"].get("mappings", [])
        if mapping["type"] == "value"
        for value, option in mapping["options"].items()
    }


def shown(panel: dict[str, Any], value: str) -> str:
    """What Grafana shows for a number Prometheus answered ("3" or "3.0" -> "ramping")."""
    number = float(value)
    key = str(int(number)) if number.is_integer() else value
    return mapped_texts(panel).get(key, value)
