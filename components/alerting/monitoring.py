"""The cluster's monitoring: kube-prometheus-stack with the same routing as AWS, scrape targets, alert rules
and dashboards.

Alertmanager routes `severity=critical` to PagerDuty and `severity=warning` to Slack, and every alert to the
ops record's receiver when the stack has one (components/alerting/alertmanager.py); the receivers' keys live
in a Kubernetes Secret that Alertmanager mounts as files, so they never appear in the Helm values.
Prometheus scrapes the ETL pods (a PodMonitor; one `job="etl"` for both colors) and the Supabase metrics endpoint
(basic auth as `service_role`, the password read from a mounted Secret). The alert rules are
declared once as data (components/alerting/rules.py) and rendered into one PrometheusRule. The
Grafana dashboards (components/alerting/dashboards/) ship as ConfigMaps the chart's sidecar loads.

EKS runs the control plane for us: kube-controller-manager, kube-scheduler and etcd are not reachable as the
chart's ServiceMonitors expect, and EKS's kube-proxy binds its metrics to 127.0.0.1. So `eks_values()` turns
those scrape targets off together with the default rules that watch them (KubeControllerManagerDown,
KubeSchedulerDown, KubeProxyDown, the etcd group), which would otherwise page from the first hour and never
resolve. The API server, kubelets, CoreDNS, kube-state-metrics and node-exporter are scraped as usual. The
chart's own Watchdog is off: ours (components/alerting/rules.py) is the one the heartbeat watches.

CRDs: Helm installs a chart's CRDs once and never upgrades them. The chart's CRD upgrade job
(`crds.upgradeJob.enabled`, a pre-install/pre-upgrade hook running `kubectl apply --server-side`) applies the
CRDs of the chart version being installed, so a version bump in `alerting.prometheusStackVersion` upgrades them
in the same `pulumi up`; docs/runbooks/monitoring-chart-upgrade.md has the manual fallback.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.alerting.alertmanager import render_alertmanager_config
from components.alerting.dashboards import DASHBOARD_LABEL, dashboard_files
from components.alerting.recorder import OpsRecordWebhook
from components.alerting.rules import render_rule_groups
from components.alerting.thresholds import Thresholds
from components.core.context import StackContext
from components.core.settings import AlertingSettings, BackupsSettings, Secret, SupabaseSettings

MONITORING_NAMESPACE = "monitoring"
RELEASE_NAME = "kube-prometheus-stack"
RECEIVERS_SECRET = "alertmanager-receivers"
PAGERDUTY_KEY_FILE = "pagerduty-routing-key"
SLACK_URL_FILE = "slack-webhook-url"
HEARTBEAT_URL_FILE = "heartbeat-url"
OPS_RECORD_TOKEN_FILE = "ops-record-token"
SUPABASE_METRICS_SECRET = "supabase-metrics"
SUPABASE_METRICS_KEY = "service-role-key"


def supabase_scrape_config(settings: SupabaseSettings) -> dict:
    """A Prometheus scrape job for the Supabase metrics endpoint; the password is read from a mounted file."""
    host = settings.url.removeprefix("https://").rstrip("/")
    return {
        "job_name": "supabase",
        "scheme": "https",
        "metrics_path": "/customer/v1/privileged/metrics",
        "scrape_interval": "60s",
        "basic_auth": {
            "username": "service_role",
            "password_file": f"/etc/prometheus/secrets/{SUPABASE_METRICS_SECRET}/{SUPABASE_METRICS_KEY}",
        },
        "static_configs": [{"targets": [host], "labels": {"project_ref": settings.project_ref}}],
    }


def eks_values() -> dict:
    """The chart values that fit EKS: no scrape target the cluster cannot serve, no rule that can never be healthy.

    Each target is disabled together with its rules (the chart renders a rule group only when both its target's
    `enabled` and its `defaultRules.rules` flag are on; both are off here so that neither alone brings it back).
    """
    return {
        # Managed by AWS and not exposed where the chart's ServiceMonitors look.
        "kubeControllerManager": {"enabled": False},
        "kubeScheduler": {"enabled": False},
        "kubeEtcd": {"enabled": False},
        # EKS's kube-proxy serves metrics on 127.0.0.1:10249 only: scraping it is always down.
        "kubeProxy": {"enabled": False},
        "defaultRules": {
            "rules": {"kubeControllerManager": False, "kubeSchedulerAlerting": False,
                      "kubeSchedulerRecording": False, "etcd": False, "kubeProxy": False,
                      "windows": False},  # no Windows nodes
            # ours, with the runbook and the heartbeat route (components/alerting/rules.py)
            "disabled": {"Watchdog": True},
        },
        # Apply the chart version's CRDs before each install or upgrade (Helm alone never upgrades them).
        "crds": {"enabled": True, "upgradeJob": {"enabled": True}},
    }


@dataclass(frozen=True)
class ClusterMonitoringArgs:
    ctx: StackContext
    settings: AlertingSettings
    backups: BackupsSettings  # maxDumpAgeHours, for the dump job's alerts
    supabase: SupabaseSettings
    k8s_provider: k8s.Provider
    pagerduty_integration_key: Secret
    slack_webhook_url: Secret
    heartbeat_url: Secret  # the dead man's switch the Watchdog pings
    supabase_service_role_key: Secret
    etl_namespace: str
    etl_live_service: str  # BlueGreenService.live_service_name
    etl_pod_selector: Mapping[str, str]  # BlueGreenService.pod_selector
    ops_record: OpsRecordWebhook | None = None  # AlertRecorder.webhook: Alertmanager also posts there


class ClusterMonitoring(pulumi.ComponentResource):
    """kube-prometheus-stack with the same routing, the scrape targets, the alert rules and the dashboards."""

    def __init__(self, name: str, args: ClusterMonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kingtavo:alerting:ClusterMonitoring", name, None, opts)
        self._prometheus_stack(name, args)
        self.register_outputs({})

    # --- cluster --------------------------------------------------------------------------------------------

    def _prometheus_stack(self, name: str, args: ClusterMonitoringArgs) -> None:
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=args.k8s_provider)
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace", metadata={"name": MONITORING_NAMESPACE,
                                           "labels": {"app.kubernetes.io/part-of": "kingtavo"}},
            opts=k8s_opts)
        in_namespace = pulumi.ResourceOptions(parent=self, provider=args.k8s_provider, depends_on=[namespace])
        receivers = k8s.core.v1.Secret(
            f"{name}-receivers",
            metadata={"name": RECEIVERS_SECRET, "namespace": MONITORING_NAMESPACE},
            type="Opaque",
            string_data={PAGERDUTY_KEY_FILE: args.pagerduty_integration_key.output(),
                         SLACK_URL_FILE: args.slack_webhook_url.output(),
                         HEARTBEAT_URL_FILE: args.heartbeat_url.output(),
                         **({OPS_RECORD_TOKEN_FILE: args.ops_record.token} if args.ops_record else {})},
            opts=in_namespace)
        scrape_secret = k8s.core.v1.Secret(
            f"{name}-supabase-metrics",
            metadata={"name": SUPABASE_METRICS_SECRET, "namespace": MONITORING_NAMESPACE},
            type="Opaque",
            string_data={SUPABASE_METRICS_KEY: args.supabase_service_role_key.output()},
            opts=in_namespace)

        alertmanager_config = render_alertmanager_config(
            secret_name=RECEIVERS_SECRET, pagerduty_key_file=PAGERDUTY_KEY_FILE, slack_url_file=SLACK_URL_FILE,
            heartbeat_url_file=HEARTBEAT_URL_FILE, slack_channel=args.settings.slack_channel_name,
            environment=args.ctx.environment, heartbeat_interval_minutes=args.settings.heartbeat_interval_minutes,
            ops_record_url=args.ops_record.url if args.ops_record else None,
            ops_record_token_file=OPS_RECORD_TOKEN_FILE if args.ops_record else None)
        values = {
            **eks_values(),
            "fullnameOverride": RELEASE_NAME,
            "alertmanager": {
                "config": alertmanager_config,
                "alertmanagerSpec": {"secrets": [RECEIVERS_SECRET], "replicas": 2},
            },
            "prometheus": {"prometheusSpec": {
                "secrets": [SUPABASE_METRICS_SECRET],
                "additionalScrapeConfigs": [supabase_scrape_config(args.supabase)],
                # pick up our PrometheusRule and PodMonitor without the chart's release label
                "ruleSelectorNilUsesHelmValues": False,
                "podMonitorSelectorNilUsesHelmValues": False,
                "serviceMonitorSelectorNilUsesHelmValues": False,
                "retention": "15d",
            }},
            # The dashboards' sidecar reads ConfigMaps in this namespace only: a namespaced Role, no ClusterRole
            # that could read every Secret in the cluster (the ETL's included).
            "grafana": {"rbac": {"namespaced": True},
                        "sidecar": {"dashboards": {"enabled": True, "label": DASHBOARD_LABEL[0],
                                                   "labelValue": DASHBOARD_LABEL[1], "resource": "configmap",
                                                   "searchNamespace": MONITORING_NAMESPACE},
                                    "datasources": {"resource": "configmap"}}},
        }
        release = k8s.helm.v3.Release(
            f"{name}-prometheus-stack",
            name=RELEASE_NAME,
            chart="kube-prometheus-stack",
            version=args.settings.prometheus_stack_version,
            namespace=MONITORING_NAMESPACE,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo="https://prometheus-community.github.io/helm-charts"),
            values=values,
            atomic=True,
            cleanup_on_fail=True,
            opts=pulumi.ResourceOptions(parent=self, provider=args.k8s_provider,
                                        depends_on=[namespace, receivers, scrape_secret]))
        crd_ready = pulumi.ResourceOptions(parent=self, provider=args.k8s_provider, depends_on=[release])

        k8s.apiextensions.CustomResource(
            f"{name}-etl-pods",
            api_version="monitoring.coreos.com/v1",
            kind="PodMonitor",
            metadata={"name": "etl", "namespace": MONITORING_NAMESPACE},
            spec={
                "namespaceSelector": {"matchNames": [args.etl_namespace]},
                "selector": {"matchLabels": dict(args.etl_pod_selector)},
                "podMetricsEndpoints": [{
                    "port": "http", "path": "/metrics", "interval": "30s",
                    # one job name for both colors, as the alert rules expect; `color` stays a label
                    "relabelings": [
                        {"targetLabel": "job", "replacement": "etl"},
                        {"sourceLabels": ["__meta_kubernetes_pod_label_color"], "targetLabel": "color"},
                    ],
                }],
            },
            opts=crd_ready)
        k8s.apiextensions.CustomResource(
            f"{name}-rules",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata={"name": "kingtavo-alerts", "namespace": MONITORING_NAMESPACE,
                      "labels": {"app.kubernetes.io/part-of": "kingtavo"}},
            spec=render_rule_groups(environment=args.ctx.environment,
                                    thresholds=Thresholds.from_settings(args.settings, args.backups),
                                    runbook_base_url=args.settings.runbook_base_url,
                                    etl_namespace=args.etl_namespace, etl_live_service=args.etl_live_service),
            opts=crd_ready)
        for filename, content in sorted(dashboard_files().items()):
            k8s.core.v1.ConfigMap(
                f"{name}-dashboard-{filename.removesuffix('.json')}",
                metadata={"name": f"dashboard-{filename.removesuffix('.json')}", "namespace": MONITORING_NAMESPACE,
                          "labels": {DASHBOARD_LABEL[0]: DASHBOARD_LABEL[1]}},
                data={filename: content},
                opts=in_namespace)

