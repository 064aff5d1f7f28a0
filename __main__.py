"""Kingtavo's infrastructure: the composition root. Load settings, build components, export.

No resource logic lives here: each plane is a component in `components/`, handed the typed
slice of the settings it needs. With invalid settings nothing below the first line runs, so
no resource is registered.
"""

import pulumi

from components.alerting import AlertRouting, AlertRoutingArgs
from components.backups import BackupArchive, BackupArchiveArgs
from components.blue_green import BlueGreenArgs, BlueGreenService, ServiceNamespace, ServiceNamespaceArgs
from components.cluster import Cluster, ClusterArgs
from components.kms import AwsContext, PlatformKey, PlatformKeyArgs
from components.monitoring import ClusterMonitoring, ClusterMonitoringArgs
from components.network import Network, NetworkArgs
from components.settings import check_against_account, load_settings, present_config_keys

settings = load_settings(present_keys=present_config_keys())
aws_ctx = AwsContext.lookup()
check_against_account(settings, aws_ctx.account_id, aws_ctx.region)
protect = settings.is_production

platform_key = PlatformKey("platform-key", PlatformKeyArgs(
    environment=settings.environment, aws=aws_ctx, deletion_window_days=settings.secrets.kms_deletion_window_days,
    protect=protect))
network = Network("network", NetworkArgs(
    settings=settings.network, environment=settings.environment, cluster_name=settings.cluster.name,
    kms_key_arn=platform_key.arn, protect=protect))

# --- compute: the EKS cluster and the ETL service's namespace, identity and blue/green pair ---
cluster = Cluster("cluster", ClusterArgs(
    settings=settings.cluster, environment=settings.environment, aws=aws_ctx,
    private_subnet_ids=network.private_subnet_ids, logs_kms_key_arn=platform_key.arn,
    kms_deletion_window_days=settings.secrets.kms_deletion_window_days, protect=protect))
etl_namespace = ServiceNamespace("etl", ServiceNamespaceArgs(
    environment=settings.environment, namespace=settings.etl.namespace, service_account="etl",
    k8s_provider=cluster.provider, oidc_provider_arn=cluster.oidc_provider_arn, oidc_issuer=cluster.oidc_issuer))
etl = BlueGreenService("etl", BlueGreenArgs(
    settings=settings.etl, active_color=settings.active_color, environment=settings.environment,
    k8s_provider=cluster.provider, namespace=etl_namespace))

# --- alerting: where every alarm goes (PagerDuty for critical, Slack for both) ---
alert_routing = AlertRouting("alerts", AlertRoutingArgs(
    settings=settings.alerting, environment=settings.environment, aws=aws_ctx, kms_key_arn=platform_key.arn,
    pagerduty_cloudwatch_integration_key=settings.secret.pagerduty_cloudwatch_integration_key))

# --- monitoring in the cluster: Prometheus, Alertmanager (same routes), the alert rules, dashboards ---
ClusterMonitoring("monitoring", ClusterMonitoringArgs(
    settings=settings.alerting, supabase=settings.supabase, environment=settings.environment,
    k8s_provider=cluster.provider, pagerduty_integration_key=settings.secret.pagerduty_integration_key,
    slack_webhook_url=settings.secret.slack_webhook_url,
    supabase_service_role_key=settings.secret.supabase_service_role_key, etl_namespace=settings.etl.namespace))

# --- backups: the archive for the weekly and monthly tiers ---
backup_archive = BackupArchive("backups", BackupArchiveArgs(
    settings=settings.backups, environment=settings.environment, aws=aws_ctx, kms_key_arn=platform_key.arn,
    protect=protect))

pulumi.export("environment", settings.environment)
pulumi.export("liveColor", etl.live_color)
pulumi.export("etlLiveRelease", etl.live_release)
pulumi.export("etlIdleRelease", etl.idle_release)
pulumi.export("vpcId", network.vpc_id)
pulumi.export("privateSubnetIds", network.private_subnet_ids)
pulumi.export("publicSubnetIds", network.public_subnet_ids)
pulumi.export("clusterName", cluster.name)
pulumi.export("kubeconfig", cluster.kubeconfig)
pulumi.export("backupBucketName", backup_archive.bucket_name)
pulumi.export("criticalAlertTopicArn", alert_routing.critical_topic_arn)
