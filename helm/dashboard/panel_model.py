"""What a dashboard panel is, for the tables in panels.py and controller_panels.py; build.py lays
them out as Grafana's JSON."""

from __future__ import annotations

from dataclasses import dataclass, field

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
WINDOW = "[$__rate_interval]"
ROLLOUT = 'rollout="$rollout"'


@dataclass
class Panel:
    title: str
    unit: str
    targets: list[tuple[str, str]]  # (PromQL, legend); refIds A, B... in this order
    description: str = ""
    kind: str = "timeseries"
    mappings: list[dict] = field(default_factory=list)
    custom: dict = field(default_factory=dict)  # fieldConfig.defaults.custom (draw style...)
    overrides: list[dict] = field(default_factory=list)  # fieldConfig.overrides
    options: dict = field(default_factory=dict)  # the panel kind's own options


@dataclass
class Row:
    title: str
    panels: list[Panel]


def value_mappings(named: dict[int, tuple[str, str]]) -> list[dict]:
    """Grafana value mappings from {value: (text, colour)}."""
    return [
        {"type": "value", "options": {str(value): {"text": text, "color": colour, "index": i}}}
        for i, (value, (text, colour)) in enumerate(named.items())
    ]


def override(matcher: str, name: str, **properties: object) -> dict:
    """Field properties for the fields a matcher picks (byName: a legend; byFrameRefID: a query)."""
    return {
        "matcher": {"id": matcher, "options": name},
        "properties": [{"id": key, "value": value} for key, value in properties.items()],
    }


def fixed_colour(colour: str) -> dict:
    return {"mode": "fixed", "fixedColor": colour}
