"""Kingtavo's infrastructure: the composition root. Load settings, build one component per plane, export.

No resource logic lives here: each plane is a component in `components/<plane>/`, handed the
`StackContext` (environment, account and region, platform key) and the typed slice of the
settings it needs. With invalid settings nothing below the first line runs, so no resource is
registered.
"""

import pulumi

from components import alerting, backups, compute, frontend, network, observability, platform, secrets
from components.core.bootstrap import BootstrapOutputs
from components.core.context import AwsContext, StackContext
from components.core.environments import environment
from components.core.settings import check_against_account, load_settings, present_config_keys

settings, aws_ctx = load_settings(present_keys=present_config_keys()), AwsContext.lookup()
check_against_account(settings, aws_ctx.account_id, aws_ctx.region)
secret, ctx = settings.secret_values, StackContext(env=environment(settings.environment), aws=aws_ctx)
platform_key = secrets.PlatformKey("platform-key", secrets.PlatformKeyArgs(
    ctx, settings.secrets.kms_deletion_window_days))
ctx = ctx.with_platform_key(platform_key.arn)
bootstrap = BootstrapOutputs(settings.bootstrap)  # CI roles and the image registry, from the bootstrap project
vpc = network.Network("network", network.NetworkArgs(ctx, settings.network, cluster_name=settings.cluster.name))
# where every alarm goes (PagerDuty for critical, Slack for both); built first: every plane's alarms need it
alert_routing = alerting.AlertRouting("alerts", alerting.AlertRoutingArgs(
    ctx, settings.alerting, pagerduty_cloudwatch_integration_key=secret.pagerduty_cloudwatch_integration_key,
    recovery_window_days=settings.secrets.recovery_window_days, log_retention_days=settings.cluster.log_retention_days))

# --- compute: the EKS cluster and the ETL service's namespace, identity and blue/green pair ---
cluster = compute.Cluster("cluster", compute.ClusterArgs(
    ctx, settings.cluster, private_subnet_ids=vpc.private_subnet_ids,
    kms_deletion_window_days=settings.secrets.kms_deletion_window_days,
    deploy_role_arn=bootstrap.deploy_role_arn, preview_role_arn=bootstrap.preview_role_arn))
etl_namespace = compute.ServiceNamespace("etl", compute.ServiceNamespaceArgs(
    ctx, namespace=settings.etl.namespace, service_account="etl", k8s_provider=cluster.provider,
    oidc_provider_arn=cluster.oidc_provider_arn, oidc_issuer=cluster.oidc_issuer, fence=compute.Fence(
        settings.network.cidr, (*secrets.POSTGRES_PORTS, 443), {alerting.MONITORING_NAMESPACE: ["http"]})))

# --- secrets: the ETL's in Secrets Manager (rotated), synced by External Secrets; Supabase's; its project settings ---
external_secrets = secrets.ExternalSecretsOperator("external-secrets", secrets.ExternalSecretsOperatorArgs(
    ctx, cluster.provider))
secret_store = secrets.EtlSecrets("secrets", secrets.EtlSecretsArgs(
    ctx, settings.secrets, etl=settings.etl, database=settings.supabase, etl_api_keys=secret.etl_api_keys,
    etl_reader_role_arn=etl_namespace.role.arn, k8s_provider=cluster.provider, etl_namespace=settings.etl.namespace,
    etl_service_account_name=etl_namespace.service_account_name, private_subnet_ids=vpc.private_subnet_ids,
    vpc_id=vpc.vpc_id, log_retention_days=settings.cluster.log_retention_days,
    k8s_depends_on=[external_secrets, etl_namespace], alarms=alert_routing.targets))
secrets.SupabaseSecrets("supabase", secrets.SupabaseSecretsArgs(
    settings.supabase.project_ref, settings.supabase.api_url, access_token=secret.supabase_access_token.output(),
    edge_function_secrets={name: value.output() for name, value in secret.edge_function_secrets.items()},
    moved_from=secret_store, vault_secrets={name: value.output() for name, value in secret.vault_secrets.items()}))
# the ops record: the writers' rotated credential, and the receiver filing SNS and Alertmanager alerts in ops.alerts
recorder = alerting.AlertRecorder("ops-record", alerting.AlertRecorderArgs(
    ctx, settings.supabase, secret_store.kms_key_arn, secret_store.rotator, settings.secrets.rotation_days,
    settings.secrets.recovery_window_days, alert_routing.targets, vpc.vpc_id, vpc.private_subnet_ids,
    settings.cluster.log_retention_days))
supabase_project = platform.SupabaseProject("supabase-project", platform.SupabaseProjectArgs(
    ctx, settings.supabase, access_token=secret.supabase_access_token.output(), nat_public_ips=vpc.nat_public_ips))

# --- observability: Sentry (projects, public DSNs, alerts paging the critical route) ---
error_tracking = observability.ErrorTracking("sentry", observability.ErrorTrackingArgs(
    ctx, settings.sentry, auth_token=secret.sentry_auth_token))
etl = compute.BlueGreenService("etl", compute.BlueGreenArgs(
    ctx, settings.etl, active_color=settings.active_color, k8s_provider=cluster.provider,
    namespace=etl_namespace, secret_env=secret_store.secret_env, config_env=error_tracking.etl_config_env,
    readable_secret_arns=secret_store.etl_secret_arns, secrets_kms_key_arn=secret_store.kms_key_arn))

# --- frontend: the Vercel project (owned by production), this stack's variables, blue/green deployments and aliases ---
web = frontend.VercelFrontend("frontend", frontend.FrontendArgs(
    ctx, settings.frontend, supabase=settings.supabase, active_color=settings.active_color,
    supabase_service_role_key=secret.supabase_service_role_key, sentry_auth_token=secret.sentry_auth_token,
    server_secrets=secret.frontend_server_secrets, public_outputs=error_tracking.web_public_env))
access = frontend.VercelTeamAccess("vercel-access", frontend.VercelTeamAccessArgs(
    ctx, settings.frontend, web.project_id, web.team_id))

if ctx.env.pages_on_vercel_errors:  # --- alerting: the Vercel 5xx rule (production), paging via the forwarder ---
    alert_routing.page_on_vercel_errors(web.project_id, secrets_kms_key_arn=secret_store.kms_key_arn)

# --- monitoring in the cluster: Prometheus, Alertmanager (same routes), the alert rules, dashboards ---
alerting.ClusterMonitoring("monitoring", alerting.ClusterMonitoringArgs(
    ctx, settings.alerting, backups=settings.backups, supabase=settings.supabase, k8s_provider=cluster.provider,
    pagerduty_integration_key=secret.pagerduty_integration_key, slack_webhook_url=secret.slack_webhook_url,
    heartbeat_url=secret.heartbeat_url, supabase_service_role_key=secret.supabase_service_role_key,
    etl_namespace=settings.etl.namespace, etl_live_service=etl.live_service_name, etl_pod_selector=etl.pod_selector,
    ops_record=recorder.webhook))

# --- logs: the Vercel log drain for this stack's target (signed with a generated secret) ---
vercel_log_drain = observability.VercelLogDrain("logs", observability.VercelLogDrainArgs(
    ctx, settings.logs, vercel_project_id=web.project_id))

# --- backups: the archive for the weekly and monthly tiers, the nightly dump into it, the backup monitor ---
backup_archive = backups.BackupArchive("backups", backups.BackupArchiveArgs(ctx, settings.backups))
backups.BackupDumpJob("backup-dump", backups.BackupDumpJobArgs(
    ctx, settings.backups, k8s_provider=cluster.provider, oidc_provider_arn=cluster.oidc_provider_arn,
    oidc_issuer=cluster.oidc_issuer, bucket_name=backup_archive.bucket_name, bucket_arn=backup_archive.bucket_arn,
    secrets_kms_key_arn=secret_store.kms_key_arn, database=settings.supabase, rotator=secret_store.rotator,
    rotation_days=settings.secrets.rotation_days, recovery_window_days=settings.secrets.recovery_window_days,
    fence=compute.Fence(settings.network.cidr, (*secrets.POSTGRES_PORTS, 443)), k8s_depends_on=[external_secrets]))
backup_monitor = backups.BackupMonitor("backup-monitor", backups.BackupMonitorArgs(
    ctx, settings.backups, supabase=settings.supabase, secrets_kms_key_arn=secret_store.kms_key_arn,
    access_token=secret.supabase_access_token.output(), alarms=alert_routing.targets,
    bucket_name=backup_archive.bucket_name, bucket_arn=backup_archive.bucket_arn, require_pitr=ctx.env.requires_pitr,
    recovery_window_days=settings.secrets.recovery_window_days, log_retention_days=settings.cluster.log_retention_days,
    ops_recorder_secret_arn=recorder.secret_arn))
recorder.restrict_reads([backup_monitor.function.role_arn])  # the writers that read the recorder credential

outputs = {  # the two summaries state the platform settings a plan should show (no secret in them)
    "environment": settings.environment, "liveColor": etl.live_color, "etlLiveRelease": etl.live_release,
    "etlIdleRelease": etl.idle_release, "vpcId": vpc.vpc_id, "privateSubnetIds": vpc.private_subnet_ids,
    "publicSubnetIds": vpc.public_subnet_ids, "clusterName": cluster.name, "kubeconfig": cluster.kubeconfig,
    "supabaseProject": supabase_project.summary, "vercelAccess": access.summary,
    "backupBucketName": backup_archive.bucket_name, "criticalAlertTopicArn": alert_routing.critical_topic_arn,
    "etlRepositoryUrl": bootstrap.etl_repository_url, "sentryWebDsn": error_tracking.web_dsn,
    "sentryEtlDsn": error_tracking.etl_dsn, "logDrainSigningSecret": vercel_log_drain.signing_secret,
    "liveUrl": web.live_url, "idleUrl": web.idle_url, "liveDeploymentId": web.live_deployment_id,
    "idleDeploymentId": web.idle_deployment_id, "vercelProtectionBypassSecret": web.protection_bypass_secret,
}
for output_name, value in outputs.items():
    pulumi.export(output_name, value)
