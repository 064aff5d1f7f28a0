"""Kingtavo's infrastructure: the composition root. Load settings, build components, export.

No resource logic lives here: each plane is a component in `components/`, handed the typed
slice of the settings it needs. With invalid settings nothing below the first line runs, so
no resource is registered.
"""

import pulumi

from components.alerting.monitoring import ClusterMonitoring, ClusterMonitoringArgs
from components.alerting.routing import AlertRouting, AlertRoutingArgs
from components.backups.archive import (
    BackupArchive,
    BackupArchiveArgs,
    BackupDumpJob,
    BackupDumpJobArgs,
    BackupMonitor,
    BackupMonitorArgs,
)
from components.compute.blue_green import BlueGreenArgs, BlueGreenService, ServiceNamespace, ServiceNamespaceArgs
from components.compute.cluster import Cluster, ClusterArgs
from components.compute.registry import ImageRegistry, ImageRegistryArgs
from components.core.settings import check_against_account, load_settings, present_config_keys
from components.frontend.vercel import FrontendArgs, VercelFrontend
from components.network.vpc import Network, NetworkArgs
from components.observability.log_drain import VercelLogDrain, VercelLogDrainArgs
from components.observability.sentry import ErrorTracking, ErrorTrackingArgs
from components.secrets.edge_functions import EdgeFunctionSecrets
from components.secrets.etl_secrets import (
    ExternalSecretsOperator,
    ExternalSecretsOperatorArgs,
    SecretStore,
    SecretStoreArgs,
)
from components.secrets.platform_key import AwsContext, PlatformKey, PlatformKeyArgs

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

# --- secrets: the ETL's secrets in Secrets Manager (the database credential rotated), synced by External Secrets ---
external_secrets = ExternalSecretsOperator("external-secrets", ExternalSecretsOperatorArgs(
    k8s_provider=cluster.provider))
secret_store = SecretStore("secrets", SecretStoreArgs(
    environment=settings.environment, aws=aws_ctx, settings=settings.secrets, etl=settings.etl,
    etl_api_keys=settings.secret.etl_api_keys, etl_reader_role_arn=etl_namespace.role.arn,
    k8s_provider=cluster.provider, etl_namespace=settings.etl.namespace,
    etl_service_account_name=etl_namespace.service_account_name, private_subnet_ids=network.private_subnet_ids,
    vpc_id=network.vpc_id, logs_kms_key_arn=platform_key.arn, log_retention_days=settings.cluster.log_retention_days,
    k8s_depends_on=[external_secrets, etl_namespace], protect=protect))
# Supabase Edge Function secrets, set through the Management API (values from secret config, kept secret)
EdgeFunctionSecrets(
    "supabase-edge-function-secrets", project_ref=settings.supabase.project_ref,
    access_token=settings.secret.supabase_access_token.output(),
    secrets={name: value.output() for name, value in settings.secret.edge_function_secrets.items()},
    api_url=settings.supabase.api_url, opts=pulumi.ResourceOptions(parent=secret_store))

# --- observability: the ETL image registry and Sentry (projects, public DSNs, alerts paging the critical route) ---
image_registry = ImageRegistry("registry", ImageRegistryArgs(
    settings=settings.registry, environment=settings.environment, aws=aws_ctx, kms_key_arn=platform_key.arn,
    node_role_arn=cluster.node_role_arn, protect=protect))
error_tracking = ErrorTracking("sentry", ErrorTrackingArgs(
    settings=settings.sentry, environment=settings.environment, auth_token=settings.secret.sentry_auth_token,
    protect=protect))

etl = BlueGreenService("etl", BlueGreenArgs(
    settings=settings.etl, active_color=settings.active_color, environment=settings.environment,
    k8s_provider=cluster.provider, namespace=etl_namespace, secret_env=secret_store.secret_env,
    config_env=error_tracking.etl_config_env, readable_secret_arns=secret_store.etl_secret_arns,
    secrets_kms_key_arn=secret_store.kms_key_arn))

# --- frontend: the Vercel project (owned by production), this stack's variables, blue/green deployments and aliases ---
frontend = VercelFrontend("frontend", FrontendArgs(
    settings=settings.frontend, supabase=settings.supabase, environment=settings.environment,
    active_color=settings.active_color, supabase_service_role_key=settings.secret.supabase_service_role_key,
    sentry_auth_token=settings.secret.sentry_auth_token, server_secrets=settings.secret.frontend_server_secrets,
    public_outputs=error_tracking.web_public_env))

# --- alerting: where every alarm goes (PagerDuty for critical, Slack for both) ---
alert_routing = AlertRouting("alerts", AlertRoutingArgs(
    settings=settings.alerting, environment=settings.environment, aws=aws_ctx, kms_key_arn=platform_key.arn,
    pagerduty_cloudwatch_integration_key=settings.secret.pagerduty_cloudwatch_integration_key,
    # production: the Vercel 5xx rule on the production project, forwarded to PagerDuty
    vercel_project_id=frontend.project_id if settings.is_production else None,
    secrets_kms_key_arn=secret_store.kms_key_arn, logs_kms_key_arn=platform_key.arn))

# --- monitoring in the cluster: Prometheus, Alertmanager (same routes), the alert rules, dashboards ---
ClusterMonitoring("monitoring", ClusterMonitoringArgs(
    settings=settings.alerting, supabase=settings.supabase, environment=settings.environment,
    k8s_provider=cluster.provider, pagerduty_integration_key=settings.secret.pagerduty_integration_key,
    slack_webhook_url=settings.secret.slack_webhook_url,
    supabase_service_role_key=settings.secret.supabase_service_role_key, etl_namespace=settings.etl.namespace))

# --- logs: the Vercel log drain for this stack's target (signed with a generated secret) ---
vercel_log_drain = VercelLogDrain("logs", VercelLogDrainArgs(
    settings=settings.logs, environment=settings.environment, vercel_project_id=frontend.project_id))

# --- backups: the archive for the weekly and monthly tiers, the nightly dump into it, the backup monitor ---
backup_archive = BackupArchive("backups", BackupArchiveArgs(
    settings=settings.backups, environment=settings.environment, aws=aws_ctx, kms_key_arn=platform_key.arn,
    protect=protect))
backup_dump = BackupDumpJob("backup-dump", BackupDumpJobArgs(
    settings=settings.backups, environment=settings.environment, aws=aws_ctx, k8s_provider=cluster.provider,
    oidc_provider_arn=cluster.oidc_provider_arn, oidc_issuer=cluster.oidc_issuer,
    bucket_name=backup_archive.bucket_name, bucket_arn=backup_archive.bucket_arn, archive_kms_key_arn=platform_key.arn,
    secrets_kms_key_arn=secret_store.kms_key_arn, database_host=settings.etl.database_host,
    database_port=settings.etl.database_port, database_name=settings.etl.database_name,
    k8s_depends_on=[external_secrets], protect=protect))
secret_store.rotate("backup-dump-credential", backup_dump.credential, settings.secrets.rotation_days)
BackupMonitor("backup-monitor", BackupMonitorArgs(
    settings=settings.backups, supabase=settings.supabase, environment=settings.environment, aws=aws_ctx,
    logs_kms_key_arn=platform_key.arn, secrets_kms_key_arn=secret_store.kms_key_arn,
    access_token=settings.secret.supabase_access_token.output(), critical_topic_arn=alert_routing.critical_topic_arn,
    warning_topic_arn=alert_routing.warning_topic_arn, require_pitr=settings.is_production, protect=protect))

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
pulumi.export("etlRepositoryUrl", image_registry.repository_url)
pulumi.export("sentryWebDsn", error_tracking.web_dsn)
pulumi.export("sentryEtlDsn", error_tracking.etl_dsn)
pulumi.export("logDrainSigningSecret", vercel_log_drain.signing_secret)
pulumi.export("liveUrl", frontend.live_url)
pulumi.export("idleUrl", frontend.idle_url)
pulumi.export("liveDeploymentId", frontend.live_deployment_id)
pulumi.export("idleDeploymentId", frontend.idle_deployment_id)
pulumi.export("vercelProtectionBypassSecret", frontend.protection_bypass_secret)
