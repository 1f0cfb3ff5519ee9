"""The alert rules (helm/llm-rollout/alerts/, linked from config/alerts/): valid for promtool,
each alert checked against synthetic series (`promtool test rules`), carried whole by the chart's
PrometheusRule, and naming only metrics the proxy exports. promtool comes with the Debian
prometheus package that `bash .ci/test` installs; missing, these tests fail."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml

from tests.support.helm_chart import FULLNAME, kinds, render_chart

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "helm" / "llm-rollout" / "alerts" / "llm-rollout.rules.yaml"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool")
    assert tool is not None, "promtool is missing: `bash .ci/test` installs the prometheus package"
    return subprocess.run([tool, *args], capture_output=True, text=True, cwd=REPO, timeout=60)


def test_the_rules_are_valid_and_config_alerts_is_the_same_file() -> None:
    linked = REPO / "config" / "alerts" / "llm-rollout.rules.yaml"
    assert linked.resolve() == RULES.resolve()
    checked = promtool("check", "rules", str(linked))
    assert checked.returncode == 0 and "SUCCESS: 8 rules found" in checked.stdout, checked


def test_each_alert_fires_on_its_series_and_only_there() -> None:
    tested = promtool("test", "rules", "tests/helm/alerts.test.yaml")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    alerts = {r["alert"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]}
    cases = (REPO / "tests" / "helm" / "alerts.test.yaml").read_text()
    assert {a for a in alerts if f"alertname: {a}" not in cases} == set()  # none untested


def test_the_chart_carries_the_same_rules_when_asked() -> None:
    assert "PrometheusRule" not in kinds(render_chart())
    values = {"prometheusRule": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}}}
    rule = kinds(render_chart(values))["PrometheusRule"][FULLNAME]
    assert rule["spec"] == yaml.safe_load(RULES.read_text())
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_the_rules_name_only_exported_metrics() -> None:
    documented = set(re.findall(r"`(llm_rollout_[a-z_]+)`", (REPO / "docs/metrics.md").read_text()))
    used = set(re.findall(r"llm_rollout_[a-z_]+", RULES.read_text()))
    assert used and used <= documented, used - documented
