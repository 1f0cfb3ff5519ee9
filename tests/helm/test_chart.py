"""The Helm chart rendered by Helm's own engine (tests/support/helm_chart.py), for the default
values and for a production-like set (Redis, controller, ServiceMonitor): every object is checked
against the Kubernetes API schemas (kubernetes-validate, offline), then for what matters here —
ports, probes, the config mount, secrets — and the rendered config is loaded by the proxy's own
config loader from the files the ConfigMap volume projects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import helm_python
import kubernetes_validate
import pytest
import yaml

from rollout.config import load_config
from tests.support.configmap_volume import ConfigMapVolume
from tests.support.helm_chart import (
    CHART,
    FULLNAME,
    PRODUCTION,
    PROMPT,
    container,
    kinds,
    lint,
    projected_files,
    render_chart,
    render_templates,
)

KUBERNETES_VERSION = "1.30"  # a version the chart supports (Chart.yaml: kubeVersion >= 1.23)


@pytest.fixture(scope="module")
def default() -> dict[str, dict[str, dict[str, Any]]]:
    return kinds(render_chart())


@pytest.fixture(scope="module")
def production() -> dict[str, dict[str, dict[str, Any]]]:
    return kinds(render_chart(PRODUCTION))


def env(c: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env", [])}


def secret_ref(name: str, key: str) -> dict[str, Any]:
    return {"secretKeyRef": {"name": name, "key": key}}


@pytest.mark.parametrize("values", [None, PRODUCTION], ids=["default", "production"])
def test_every_object_matches_the_kubernetes_schemas(values: dict | None) -> None:
    docs = render_chart(values)
    assert docs, "the chart rendered nothing"
    for doc in docs:
        if doc["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # a CRD: checked by hand in test_service_monitor_scrapes_the_admin_port
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("values", [None, PRODUCTION], ids=["default", "production"])
def test_helm_lint_strict_finds_nothing_worse_than_info(values: dict | None) -> None:
    report = lint(values)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_default_renders_the_proxy_its_services_and_the_dashboard(default: dict) -> None:
    assert sorted(default) == ["ConfigMap", "Deployment", "Service"]
    assert sorted(default["Deployment"]) == [FULLNAME]
    assert sorted(default["Service"]) == [FULLNAME, f"{FULLNAME}-admin"]
    assert sorted(default["ConfigMap"]) == [FULLNAME, f"{FULLNAME}-dashboard"]


def test_proxy_ports_probes_and_arguments(production: dict) -> None:
    proxy = container(production, FULLNAME)
    assert proxy["args"] == ["serve", "--config", "/etc/llm-rollout/config.yaml", "--workers", "2"]
    ports = {p["name"]: p["containerPort"] for p in proxy["ports"]}
    assert ports == {"http": 8080, "admin": 9090}
    assert proxy["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert proxy["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "admin"}
    assert proxy["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "5"]
    config = yaml.safe_load(production["ConfigMap"][FULLNAME]["data"]["config.yaml"])
    assert config["listen"] == {"host": "0.0.0.0", "port": 8080}
    assert config["admin"] == {"host": "0.0.0.0", "port": 9090}
    services = production["Service"]
    assert services[FULLNAME]["spec"]["ports"][0]["targetPort"] == "http"
    assert services[f"{FULLNAME}-admin"]["spec"]["ports"][0]["targetPort"] == "admin"
    assert production["Deployment"][FULLNAME]["spec"]["replicas"] == 3


def test_config_is_mounted_as_a_directory_so_configmap_updates_reach_the_files(
    production: dict,
) -> None:
    for name in (FULLNAME, f"{FULLNAME}-controller"):
        pod = production["Deployment"][name]["spec"]["template"]["spec"]
        (mount,) = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "config"]
        assert mount == {"name": "config", "mountPath": "/etc/llm-rollout", "readOnly": True}
        assert "subPath" not in mount  # a subPath mount never sees the kubelet's symlink swap
        (volume,) = [v for v in pod["volumes"] if v["name"] == "config"]
        assert volume["configMap"]["name"] == FULLNAME


def test_rendered_config_loads_from_the_volume_and_follows_its_updates(
    production: dict, tmp_path: Path
) -> None:
    """The proxy's own loader reads the config where the chart mounts it, finds the prompt where
    the rollout names it, and sees an update once the kubelet swaps the volume's files."""
    volume = ConfigMapVolume(tmp_path / "etc" / "llm-rollout")
    volume.write(projected_files(production))
    config = load_config(volume.mount / "config.yaml")
    assert config.store.redis_url_env == "LLM_ROLLOUT_REDIS_URL"
    assert config.store.require is True
    (rollout,) = config.rollouts
    assert rollout.plan.automatic
    assert rollout.candidate.prompt.text == PROMPT

    edited = kinds(render_chart({**PRODUCTION, "prompts": {"support-v2.md": "Be terse.\n"}}))
    volume.write(projected_files(edited))
    (rollout,) = load_config(volume.mount / "config.yaml").rollouts
    assert rollout.candidate.prompt.text == "Be terse.\n"


def test_default_config_loads_and_uses_the_embedded_store(default: dict, tmp_path: Path) -> None:
    volume = ConfigMapVolume(tmp_path)
    volume.write(projected_files(default))
    config = load_config(tmp_path / "config.yaml")
    assert config.store.redis_url is None
    assert config.store.data_dir == "/var/lib/llm-rollout"
    mounts = container(default, FULLNAME)["volumeMounts"]
    assert {"name": "data", "mountPath": "/var/lib/llm-rollout"} in mounts


def test_a_plain_redis_url_goes_into_the_config(tmp_path: Path) -> None:
    objects = kinds(render_chart({"redis": {"url": "redis://redis-master:6379/0"}}))
    ConfigMapVolume(tmp_path).write(projected_files(objects))
    assert load_config(tmp_path / "config.yaml").store.redis_url == "redis://redis-master:6379/0"
    proxy = container(objects, FULLNAME)
    assert "LLM_ROLLOUT_REDIS_URL" not in env(proxy)
    assert "data" not in [m["name"] for m in proxy["volumeMounts"]]


def test_null_removes_a_default_provider_and_a_keyless_one_needs_no_secret(
    tmp_path: Path,
) -> None:
    """Helm merges a values file into the default `config` key by key: null removes one."""
    values = {
        "providerKeys": {"existingSecret": ""},
        "config": {
            "providers": {"openai": None, "anthropic": None, "vllm": {"base_url": "http://v/v1"}},
            "routes": [{"prefix": "/v1", "provider": "vllm"}],
        },
    }
    objects = kinds(render_chart(values))
    ConfigMapVolume(tmp_path).write(projected_files(objects))
    assert list(load_config(tmp_path / "config.yaml").providers) == ["vllm"]
    assert list(env(container(objects, FULLNAME))) == ["LLM_ROLLOUT_ADMIN_URL"]


def test_secrets_reach_the_proxy_as_environment_variables(production: dict) -> None:
    proxy = env(container(production, FULLNAME))
    assert proxy["OPENAI_API_KEY"] == secret_ref("keys", "openai")
    assert proxy["ANTHROPIC_API_KEY"] == secret_ref("keys", "ANTHROPIC_API_KEY")
    assert proxy["LLM_ROLLOUT_ADMIN_TOKEN"] == secret_ref("admin-token", "token")
    assert proxy["LLM_ROLLOUT_REDIS_URL"] == secret_ref("redis-credentials", "redis-url")
    assert proxy["LLM_ROLLOUT_ADMIN_URL"] == "http://127.0.0.1:9090"
    assert proxy["LLM_ROLLOUT_METRICS_TOKEN"] == secret_ref("metrics-token", "scrape")
    assert proxy["LLM_ROLLOUT_ADMIN_TOKENS"] == "prometheus:viewer:$(LLM_ROLLOUT_METRICS_TOKEN)"


def test_controller_runs_the_controller_command_with_redis_and_no_provider_keys(
    production: dict,
) -> None:
    deployment = production["Deployment"][f"{FULLNAME}-controller"]
    assert deployment["spec"]["replicas"] == 2
    controller = container(production, f"{FULLNAME}-controller")
    assert controller["args"] == [
        "controller",
        "--config",
        "/etc/llm-rollout/config.yaml",
        "--interval",
        "1",
    ]
    assert env(controller) == {
        "LLM_ROLLOUT_ADMIN_URL": "http://127.0.0.1:9090",
        "LLM_ROLLOUT_REDIS_URL": secret_ref("redis-credentials", "redis-url"),
        "LLM_ROLLOUT_ADMIN_TOKEN": secret_ref("admin-token", "token"),
        "LLM_ROLLOUT_METRICS_TOKEN": secret_ref("metrics-token", "scrape"),
        "LLM_ROLLOUT_ADMIN_TOKENS": "prometheus:viewer:$(LLM_ROLLOUT_METRICS_TOKEN)",
    }
    assert controller["ports"] == [{"name": "admin", "containerPort": 9090, "protocol": "TCP"}]
    assert controller["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "admin"}
    assert controller["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "admin"}


def test_service_monitor_scrapes_the_admin_port(production: dict) -> None:
    monitor = production["ServiceMonitor"][FULLNAME]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == "admin" and endpoint["path"] == "/metrics"
    admin = production["Service"][f"{FULLNAME}-admin"]
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= admin["metadata"]["labels"].items()
    assert [p["name"] for p in admin["spec"]["ports"]] == ["admin"]
    traffic_labels = production["Service"][FULLNAME]["metadata"]["labels"]
    assert not selector.items() <= traffic_labels.items()  # the traffic port is not scraped


def test_a_service_monitor_scrapes_the_controller_admin_port(production: dict) -> None:
    monitor = production["ServiceMonitor"][f"{FULLNAME}-controller"]
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == "admin" and endpoint["path"] == "/metrics"
    service = production["Service"][f"{FULLNAME}-controller-admin"]
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    for other in (FULLNAME, f"{FULLNAME}-admin"):  # the proxies' are the other monitor's
        assert not selector.items() <= production["Service"][other]["metadata"]["labels"].items()


def test_services_select_their_own_pods(production: dict) -> None:
    def pod_labels(deployment: str) -> dict[str, str]:
        return production["Deployment"][deployment]["spec"]["template"]["metadata"]["labels"]

    proxy, controller = pod_labels(FULLNAME), pod_labels(f"{FULLNAME}-controller")
    for name, service in production["Service"].items():
        selector = service["spec"]["selector"].items()
        mine, others = (controller, proxy) if "controller" in name else (proxy, controller)
        assert selector <= mine.items(), name
        assert not selector <= others.items(), name


def test_standard_labels(production: dict) -> None:
    for by_name in production.values():
        for obj in by_name.values():
            labels = obj["metadata"]["labels"]
            assert labels["app.kubernetes.io/name"] == "llm-rollout"
            assert labels["app.kubernetes.io/instance"] == "demo"
            assert labels["app.kubernetes.io/managed-by"] == "Helm"
            assert labels["helm.sh/chart"] == "llm-rollout-0.1.0"


def test_checksum_annotation_only_when_asked(default: dict, production: dict) -> None:
    def annotations(objects: dict) -> dict:
        template = objects["Deployment"][FULLNAME]["spec"]["template"]
        return template["metadata"].get("annotations", {})

    assert "checksum/config" not in annotations(default)
    assert len(annotations(production)["checksum/config"]) == 64
    changed = kinds(render_chart({**PRODUCTION, "prompts": {"support-v2.md": "changed\n"}}))
    assert annotations(changed)["checksum/config"] != annotations(production)["checksum/config"]


def test_dashboard_configmap_carries_the_sidecar_label_and_the_json(default: dict) -> None:
    dashboard = default["ConfigMap"][f"{FULLNAME}-dashboard"]
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    shipped = json.loads((CHART / "dashboards" / "llm-rollout.json").read_text())
    assert json.loads(dashboard["data"]["llm-rollout.json"]) == shipped
    assert "Dashboard" not in str(kinds(render_chart({"dashboard": {"enabled": False}})))


def test_notes_tell_where_to_point_the_sdks() -> None:
    notes = render_templates()["llm-rollout/templates/NOTES.txt"]
    assert f"http://{FULLNAME}.llm:8080/v1" in notes
    assert f"kubectl -n llm exec deploy/{FULLNAME} -- rollout status" in notes


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"controller": {"enabled": True}},
            "controller.enabled needs a shared store: set redis.url or redis.existingSecret",
        ),
        (
            {"controller": {"enabled": True}, "redis": {"url": "redis://r:6379/0"}},
            "controller.enabled needs a rollout with an automatic plan",
        ),
        (
            {
                "controller": {"enabled": True},
                "redis": {"url": "redis://r:6379/0"},
                "config": {"rollouts": [{"name": "r", "candidate": {"model": "m"}}]},
            },
            "controller.enabled needs a rollout with an automatic plan",
        ),
        (
            {"proxy": {"replicas": 2}, "config": {"flags": [{"name": "f"}]}},
            "proxy.replicas > 1 or proxy.workers > 1 with rollouts or flags needs a shared store",
        ),
        ({"config": {"listen": {"port": 1}}}, "config.listen is set by the chart"),
        (
            {"config": {"store": {"redis_url": "redis://r"}}},
            "config.store.redis_url is set by the chart",
        ),
        ({"providerKeys": {"existingSecret": ""}}, "set providerKeys.existingSecret"),
        (
            {"serviceMonitor": {"enabled": True}},
            "serviceMonitor.enabled needs metrics.tokenSecret.name: the admin port is bound to"
            " 0.0.0.0, where /metrics answers only a bearer token with the role viewer",
        ),
        (
            {
                "metrics": {"tokenSecret": {"name": "m"}},
                "proxy": {
                    "extraEnv": [{"name": "LLM_ROLLOUT_ADMIN_TOKENS", "value": "a:viewer:b"}]
                },
            },
            "extraEnv sets LLM_ROLLOUT_ADMIN_TOKENS, which the chart sets",
        ),
        ({"prompts": {"team/a.md": "x"}}, "prompts.team/a.md: a prompt is named by a plain file"),
        # values.schema.json: a typo or a wrong type is named, never silently ignored
        ({"proxy": {"replica": 3}}, "at '/proxy': additional properties 'replica' not allowed"),
        ({"proxy": {"workers": 0}}, "at '/proxy/workers': minimum: got 0, want 1"),
        ({"redis": {"url": "http://r"}}, "at '/redis/url': 'http://r' does not match pattern"),
        (
            {"metrics": {"tokenSecret": {"secret": "m"}}},
            "at '/metrics/tokenSecret': additional properties 'secret' not allowed",
        ),
    ],
)
def test_values_the_processes_would_refuse_fail_at_render(values: dict, message: str) -> None:
    with pytest.raises(helm_python.HelmError) as failure:
        render_templates(values)
    assert message in str(failure.value)
