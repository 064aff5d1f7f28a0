"""The cluster's monitoring from the offline plan: routing keys only as mounted files, the scrape targets,
the rendered rules and the dashboards' ConfigMaps."""

from __future__ import annotations

import json

import pytest

from components.alerting.dashboards import DASHBOARD_LABEL, dashboard_files
from components.alerting.rules import render_rule_groups
from components.alerting.thresholds import Thresholds
from tests.support.plans import STACKS, plan
from tools.harness import is_secret_wrapper, stack_config

RELEASE = "kubernetes:helm.sh/v3:Release"


def _values(stack: str) -> dict:
    return plan(stack).one(RELEASE, "monitoring-prometheus-stack").inputs["values"]


@pytest.mark.parametrize("stack", STACKS)
def test_alertmanager_reads_its_keys_from_mounted_files_only(stack):
    result = plan(stack)
    values = _values(stack)
    text = json.dumps(values)
    for key in ("kingtavo:pagerdutyIntegrationKey", "kingtavo:slackWebhookUrl", "kingtavo:supabaseServiceRoleKey",
                "kingtavo:heartbeatUrl"):
        assert result.secrets[key] not in text
    assert values["alertmanager"]["alertmanagerSpec"]["secrets"] == ["alertmanager-receivers"]
    receivers = {r["name"]: r for r in values["alertmanager"]["config"]["receivers"]}
    pagerduty = receivers["pagerduty"]["pagerduty_configs"][0]
    slack = receivers["slack"]["slack_configs"][0]
    assert pagerduty["routing_key_file"] == "/etc/alertmanager/secrets/alertmanager-receivers/pagerduty-routing-key"
    assert slack["api_url_file"] == "/etc/alertmanager/secrets/alertmanager-receivers/slack-webhook-url"
    heartbeat = receivers["heartbeat"]["webhook_configs"][0]
    assert heartbeat["url_file"] == "/etc/alertmanager/secrets/alertmanager-receivers/heartbeat-url"


@pytest.mark.parametrize("stack", STACKS)
def test_the_receivers_secret_holds_the_keys_as_pulumi_secrets(stack):
    result = plan(stack)
    secret = result.one("kubernetes:core/v1:Secret", "monitoring-receivers")
    assert secret.inputs["stringData"] == {
        "pagerduty-routing-key": result.secrets["kingtavo:pagerdutyIntegrationKey"],
        "slack-webhook-url": result.secrets["kingtavo:slackWebhookUrl"],
        "heartbeat-url": result.secrets["kingtavo:heartbeatUrl"],
    }
    raw = secret.raw_inputs["stringData"]
    assert is_secret_wrapper(raw) or all(is_secret_wrapper(v) for v in raw.values())


@pytest.mark.parametrize("stack", STACKS)
def test_prometheus_scrapes_supabase_with_the_service_role_from_a_file(stack):
    (job,) = _values(stack)["prometheus"]["prometheusSpec"]["additionalScrapeConfigs"]
    ref = stack_config(stack)["kingtavo:supabase"]["projectRef"]
    assert job["metrics_path"] == "/customer/v1/privileged/metrics" and job["scheme"] == "https"
    assert job["static_configs"][0]["targets"] == [f"{ref}.supabase.co"]
    assert job["basic_auth"] == {"username": "service_role",
                                 "password_file": "/etc/prometheus/secrets/supabase-metrics/service-role-key"}
    assert _values(stack)["prometheus"]["prometheusSpec"]["secrets"] == ["supabase-metrics"]


@pytest.mark.parametrize("stack", STACKS)
def test_prometheus_scrapes_both_etl_colors_as_one_job(stack):
    monitor = plan(stack).one("kubernetes:monitoring.coreos.com/v1:PodMonitor")
    spec = monitor.inputs["spec"]
    assert spec["selector"] == {"matchLabels": {"app.kubernetes.io/name": "etl"}}
    assert spec["namespaceSelector"] == {"matchNames": ["etl"]}
    assert {"targetLabel": "job", "replacement": "etl"} in spec["podMetricsEndpoints"][0]["relabelings"]


@pytest.mark.parametrize("stack", STACKS)
def test_the_prometheus_rule_is_the_rendered_rule_data(stack):
    alerting = stack_config(stack)["kingtavo:alerting"]
    rule = plan(stack).one("kubernetes:monitoring.coreos.com/v1:PrometheusRule")
    assert rule.inputs["spec"] == render_rule_groups(
        environment=stack, etl_no_success_hours=alerting["etlNoSuccessHours"],
        runbook_base_url="https://github.com/kingtavo/infrastructure/blob/main/docs/runbooks", etl_namespace="etl")
    assert rule.inputs["spec"] == render_rule_groups(
        environment=stack, thresholds=Thresholds(etl_no_success_hours=alerting["etlNoSuccessHours"]),
        runbook_base_url="https://github.com/kingtavo/infrastructure/blob/main/docs/runbooks", etl_namespace="etl")


@pytest.mark.parametrize("stack", STACKS)
def test_dashboards_ship_as_configmaps_the_grafana_sidecar_loads(stack):
    values = _values(stack)
    sidecar = values["grafana"]["sidecar"]["dashboards"]
    assert (sidecar["label"], sidecar["labelValue"]) == DASHBOARD_LABEL and sidecar["enabled"] is True
    maps = [c for c in plan(stack).by_type("kubernetes:core/v1:ConfigMap") if c.name.startswith("monitoring-dashboard")]
    assert sorted(name for c in maps for name in c.inputs["data"]) == sorted(dashboard_files())
    assert all(c.inputs["metadata"]["labels"] == {DASHBOARD_LABEL[0]: DASHBOARD_LABEL[1]} for c in maps)


def test_the_chart_version_is_pinned():
    release = plan("production").one(RELEASE, "monitoring-prometheus-stack")
    assert release.inputs["chart"] == "kube-prometheus-stack"
    assert release.inputs["version"].count(".") == 2


# --- EKS: no chart default that can never be healthy --------------------------------------------------------------

# How kube-prometheus-stack decides to scrape a control-plane component and to render the rules that watch it: a
# rule group is rendered only when its target's `enabled` AND its `defaultRules.rules` flag are true (the guard of
# templates/prometheus/rules-1.14/kubernetes-system-scheduler.yaml and its siblings), with the alerts that would
# fire forever on EKS, where AWS runs these components out of Prometheus' reach.
EKS_UNREACHABLE = {
    "kube-controller-manager": ("kubeControllerManager", ("kubeControllerManager",), "KubeControllerManagerDown"),
    "kube-scheduler": ("kubeScheduler", ("kubeSchedulerAlerting", "kubeSchedulerRecording"), "KubeSchedulerDown"),
    "etcd": ("kubeEtcd", ("etcd",), "etcdMembersDown"),
    "kube-proxy": ("kubeProxy", ("kubeProxy",), "KubeProxyDown"),  # EKS binds its metrics to 127.0.0.1
}


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("component", sorted(EKS_UNREACHABLE))
def test_eks_control_plane_targets_and_their_rules_are_off(stack, component):
    values = _values(stack)
    target, rule_flags, alert = EKS_UNREACHABLE[component]
    assert values[target] == {"enabled": False}, f"{component} is scraped, and {alert} would fire forever"
    for flag in rule_flags:
        assert values["defaultRules"]["rules"][flag] is False, f"{flag} rules would render ({alert})"


@pytest.mark.parametrize("stack", STACKS)
def test_what_eks_does_serve_is_still_scraped_and_watched(stack):
    values = _values(stack)
    for target in ("kubeApiServer", "kubelet", "coreDns", "kubeStateMetrics", "nodeExporter"):
        assert values.get(target, {}).get("enabled", True) is True, target
    rules = values["defaultRules"]["rules"]
    for flag in ("kubeApiserverAvailability", "kubelet", "kubeStateMetrics", "kubernetesApps", "node", "general"):
        assert rules.get(flag, True) is True, flag
    assert set(rules) == {"kubeControllerManager", "kubeSchedulerAlerting", "kubeSchedulerRecording", "etcd",
                          "kubeProxy", "windows"}, "only the rule groups EKS cannot serve are turned off"


@pytest.mark.parametrize("stack", STACKS)
def test_one_watchdog_ours_and_the_crds_upgraded_with_the_chart(stack):
    values = _values(stack)
    assert values["defaultRules"]["disabled"] == {"Watchdog": True}
    rule = plan(stack).one("kubernetes:monitoring.coreos.com/v1:PrometheusRule")
    assert [r["alert"] for g in rule.inputs["spec"]["groups"] for r in g["rules"]].count("Watchdog") == 1
    assert values["crds"] == {"enabled": True, "upgradeJob": {"enabled": True}}


def test_the_chart_is_a_current_release():
    release = plan("production").one(RELEASE, "monitoring-prometheus-stack")
    major = int(release.inputs["version"].split(".")[0])
    assert major >= 91, "kube-prometheus-stack 91.x (Alertmanager 0.33+, url_file for the heartbeat)"


@pytest.mark.parametrize("stack", STACKS)
def test_grafana_s_sidecar_reads_configmaps_in_its_own_namespace_only(stack):
    """A cluster-wide sidecar with a ClusterRole could read every Secret (the ETL's too)."""
    grafana = _values(stack)["grafana"]
    assert grafana["rbac"] == {"namespaced": True}
    dashboards = grafana["sidecar"]["dashboards"]
    assert (dashboards["resource"], dashboards["searchNamespace"]) == ("configmap", "monitoring")
    assert grafana["sidecar"]["datasources"]["resource"] == "configmap"
