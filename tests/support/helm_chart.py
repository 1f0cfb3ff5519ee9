"""Render the repository's Helm chart with Helm's own template engine, offline.

The engine is Helm's Go SDK (v4), bound by the `helm-python-sdk` package (a test extra): the
same rendering as `helm template`, with no cluster and no `helm` binary. A missing package is
an ImportError, so a test that renders fails instead of skipping.

    docs = render_chart({"redis": {"url": "redis://r:6379/0"}})   # parsed YAML documents
    kinds(docs)["Deployment"]                                      # by kind, then by name
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import helm_python
import yaml

CHART = Path(__file__).resolve().parents[2] / "helm" / "llm-rollout"
RELEASE = "demo"
NAMESPACE = "llm"
FULLNAME = f"{RELEASE}-llm-rollout"
Objects = dict[str, dict[str, dict[str, Any]]]  # by kind, then by name
PROMPT = "You are a concise support agent.\n"
# Production-like values: Redis, controller and ServiceMonitor, tokens and keys from Secrets.
PRODUCTION: dict[str, Any] = {
    "redis": {"existingSecret": "redis-credentials"},
    "adminToken": {"existingSecret": "admin-token"},
    "metrics": {"tokenSecret": {"name": "metrics-token", "key": "scrape"}},
    "providerKeys": {"existingSecret": "keys", "keys": {"OPENAI_API_KEY": "openai"}},
    "proxy": {"replicas": 3, "workers": 2, "rollOnConfigChange": True},
    "controller": {"enabled": True, "replicas": 2},
    "serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
    "prompts": {"support-v2.md": PROMPT},
    "config": {
        "store": {"require": True},
        "rollouts": [
            {
                "name": "support-v2",
                "routes": ["/v1"],
                "candidate": {"model": "gpt-4o", "prompt": {"file": "prompts/support-v2.md"}},
                "plan": {"automatic": True, "stages": [1, 5, 25, 50, 100]},
            }
        ],
    },
}


def render_templates(values: dict[str, Any] | None = None) -> dict[str, str]:
    """Template path -> rendered text (NOTES.txt included), as `helm template` would print."""
    with helm_python.Chart.load(CHART) as chart:
        return chart.render(values or {}, name=RELEASE, namespace=NAMESPACE, is_install=True)


def render_chart(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every Kubernetes object the chart renders, parsed (empty documents left out)."""
    docs: list[dict[str, Any]] = []
    for path, text in sorted(render_templates(values).items()):
        if path.endswith(".txt"):
            continue
        docs.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return docs


def kinds(docs: list[dict[str, Any]]) -> Objects:
    by_kind: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for doc in docs:
        by_kind[doc["kind"]][doc["metadata"]["name"]] = doc
    return by_kind


def lint(values: dict[str, Any] | None = None) -> dict[str, Any]:
    """`helm lint --strict` findings: {"messages": [{"severity", "path", "error"}], ...}."""
    return helm_python.lint(CHART, values, strict=True, namespace=NAMESPACE)


def container(objects: Objects, deployment: str) -> dict[str, Any]:
    """The only container of a Deployment's pods."""
    (only,) = objects["Deployment"][deployment]["spec"]["template"]["spec"]["containers"]
    return only


def projected_files(objects: Objects) -> dict[str, str]:
    """What the proxy pod's config volume holds: each ConfigMap item's key at its path."""
    data = objects["ConfigMap"][FULLNAME]["data"]
    pod = objects["Deployment"][FULLNAME]["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "config"]
    return {item["path"]: data[item["key"]] for item in volume["configMap"]["items"]}
