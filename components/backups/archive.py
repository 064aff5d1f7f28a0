"""Backups: the archive for the tiers Supabase does not keep, the nightly dump job, and the backup monitor.

Supabase takes the daily snapshots (and point-in-time recovery in production). This plane adds:

- an S3 archive, encrypted with the platform KMS key, versioned, public access blocked,
  TLS-only, with lifecycle rules per tier prefix: `daily/` kept dailyRetention days, `weekly/`
  weeklyRetention weeks, `monthly/` monthlyRetention months (7 / 28 / 180 days by default);
- a Kubernetes CronJob that takes a logical dump (`pg_dump --format=custom`) with a read-only
  database credential from Secrets Manager and writes it to the tier of the day: the first of
  the month to `monthly/`, Sundays to `weekly/`, other days to `daily/`;
- the backup monitor: a Lambda, run hourly, that reads the Management API's backup list and
  publishes CloudWatch metrics, and alarms on them that page (the critical topic): the last
  completed backup older than maxBackupAgeHours, a failed backup, point-in-time recovery off in
  production, and the monitor itself silent (missing data breaches).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.compute.blue_green import ServiceNamespace, ServiceNamespaceArgs
from components.compute.identity import service_trust_policy
from components.core.context import StackContext, manual_rotation_tags
from components.core.settings import BackupsSettings, SupabaseSettings
from components.secrets.external_secrets import SecretKey, SyncedSecret, SyncedSecretArgs

METRIC_NAMESPACE = "Kingtavo/Backups"
TIERS = ("daily", "weekly", "monthly")
PG_DUMP_IMAGE = "postgres:15.14-alpine3.22"
AWS_CLI_IMAGE = "amazon/aws-cli:2.31.0"
SCRIPTS_DIR = Path(__file__).resolve().parent / "backup_job"
UPLOAD_SCRIPT = """set -eu
key=$(cat /dump/key)
for file in backup.dump manifest.json; do
  target="$key"; [ "$file" = manifest.json ] && target="${key%.dump}.manifest.json"
  aws s3 cp "/dump/$file" "s3://$BACKUP_BUCKET/$target" --sse aws:kms --sse-kms-key-id "$KMS_KEY_ARN" --only-show-errors
done
echo "uploaded $key and its manifest"
"""
DUMP_SCHEMAS = "public,ops,ops_private"


def retention_days(settings: BackupsSettings) -> dict[str, int]:
    """Days each tier's dumps are kept: 7 daily, 4 weekly (28 days), 6 monthly (180 days) by default."""
    return {"daily": settings.daily_retention, "weekly": settings.weekly_retention * 7,
            "monthly": settings.monthly_retention * 30}


def tls_only_bucket_policy(bucket_arn: str) -> str:
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, f"{bucket_arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }],
    })


@dataclass(frozen=True)
class BackupArchiveArgs:
    ctx: StackContext
    settings: BackupsSettings


class BackupArchive(pulumi.ComponentResource):
    """The S3 archive for weekly and monthly dumps. Outputs: bucket_name, bucket_arn."""

    def __init__(self, name: str, args: BackupArchiveArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kingtavo:backups:BackupArchive", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=f"kingtavo-{args.ctx.environment}-db-backups-{args.ctx.aws.account_id}",
            force_destroy=False,
            tags=args.ctx.tags("backups"),
            opts=pulumi.ResourceOptions(parent=self, protect=args.ctx.protect))
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership", bucket=self.bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"}, opts=child)
        aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block", bucket=self.bucket.id, block_public_acls=True, block_public_policy=True,
            ignore_public_acls=True, restrict_public_buckets=True, opts=child)
        aws.s3.BucketVersioning(
            f"{name}-versioning", bucket=self.bucket.id, versioning_configuration={"status": "Enabled"}, opts=child)
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption", bucket=self.bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms",
                                                                "kms_master_key_id": args.ctx.key_arn},
                    "bucket_key_enabled": True}],
            opts=child)
        aws.s3.BucketPolicy(
            f"{name}-tls-only", bucket=self.bucket.id, policy=self.bucket.arn.apply(tls_only_bucket_policy),
            opts=child)
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle", bucket=self.bucket.id,
            rules=[
                *({"id": f"expire-{tier}", "status": "Enabled", "filter": {"prefix": f"{tier}/"},
                   "expiration": {"days": days},
                   "noncurrent_version_expiration": {"noncurrent_days": 7}}
                  for tier, days in retention_days(args.settings).items()),
                {"id": "abort-incomplete-uploads", "status": "Enabled", "filter": {"prefix": ""},
                 "abort_incomplete_multipart_upload": {"days_after_initiation": 1}},
            ],
            opts=child)
        self.bucket_name = self.bucket.bucket
        self.bucket_arn = self.bucket.arn
        self.register_outputs({"bucketName": self.bucket_name, "bucketArn": self.bucket_arn})


@dataclass(frozen=True)
class BackupMonitorArgs:
    ctx: StackContext
    settings: BackupsSettings
    supabase: SupabaseSettings
    secrets_kms_key_arn: pulumi.Input[str]
    access_token: pulumi.Input[str]  # the Supabase Management API token, a Pulumi secret
    critical_topic_arn: pulumi.Input[str]
    warning_topic_arn: pulumi.Input[str]
    require_pitr: bool
    code: pulumi.Archive | None = None


def alarm_specs(settings: BackupsSettings, require_pitr: bool) -> list[dict]:
    """The backup alarms: what they watch, their threshold and what missing data means."""
    specs = [
        {"name": "backup-stale", "metric": "HoursSinceLastCompletedBackup", "statistic": "Maximum",
         "operator": "GreaterThanThreshold", "threshold": settings.max_backup_age_hours,
         "missing": "breaching",  # the monitor stopped reporting: page too
         "description": f"The last completed Supabase backup is older than {settings.max_backup_age_hours} hours, "
                        f"or the backup monitor stopped reporting."},
        {"name": "backup-failed", "metric": "FailedBackups", "statistic": "Maximum",
         "operator": "GreaterThanThreshold", "threshold": 0, "missing": "notBreaching",
         "description": "A Supabase backup failed in the last day."},
    ]
    if require_pitr:
        specs.append({"name": "pitr-off", "metric": "PitrEnabled", "statistic": "Minimum",
                      "operator": "LessThanThreshold", "threshold": 1, "missing": "breaching",
                      "description": "Point-in-time recovery is off for the production database."})
    return specs


class BackupMonitor(pulumi.ComponentResource):
    """The hourly backup monitor Lambda, its schedule, and the alarms on its metrics."""

    def __init__(self, name: str, args: BackupMonitorArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kingtavo:backups:BackupMonitor", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = args.ctx.tags("backups")
        function_name = f"kingtavo-{args.ctx.environment}-backup-monitor"

        token = aws.secretsmanager.Secret(
            f"{name}-supabase-token",
            name=f"kingtavo/{args.ctx.environment}/supabase-management-token",
            description="Supabase Management API token the backup monitor reads",
            kms_key_id=args.secrets_kms_key_arn,
            recovery_window_in_days=30 if args.ctx.protect else 7,
            # Supabase access tokens are issued in its dashboard; Secrets Manager cannot rotate them.
            tags={**tags, **manual_rotation_tags(
                "Supabase issues access tokens in its dashboard. Rotate there, then set config")},
            opts=pulumi.ResourceOptions(parent=self, protect=args.ctx.protect))
        aws.secretsmanager.SecretVersion(f"{name}-supabase-token-value", secret_id=token.id,
                                         secret_string=args.access_token, opts=pulumi.ResourceOptions(parent=token))

        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs", name=f"/aws/lambda/{function_name}", retention_in_days=90,
            kms_key_id=args.ctx.key_arn, tags=tags, opts=child)
        role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=service_trust_policy("lambda.amazonaws.com", args.ctx.aws.account_id),
            tags=tags, opts=child)
        aws.iam.RolePolicy(
            f"{name}-least-privilege", role=role.id,
            policy=pulumi.Output.all(token.arn, log_group.arn, args.secrets_kms_key_arn).apply(
                lambda v: json.dumps({"Version": "2012-10-17", "Statement": [
                    {"Sid": "ReadToken", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                     "Resource": v[0]},
                    {"Sid": "DecryptToken", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": v[2],
                     "Condition": {"StringEquals": {
                         "kms:ViaService": f"secretsmanager.{args.ctx.aws.region}.amazonaws.com"}}},
                    {"Sid": "PublishMetrics", "Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*",
                     "Condition": {"StringEquals": {"cloudwatch:namespace": METRIC_NAMESPACE}}},
                    {"Sid": "WriteOwnLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                     "Resource": f"{v[1]}:*"},
                ]})),
            opts=pulumi.ResourceOptions(parent=role))
        self.function = aws.lambda_.Function(
            f"{name}-function",
            name=function_name,
            runtime="python3.12",
            handler="handler.lambda_handler",
            code=args.code or pulumi.FileArchive("build/lambdas/backup_monitor.zip"),
            role=role.arn,
            timeout=60,
            memory_size=128,
            environment={"variables": {
                "ENVIRONMENT": args.ctx.environment,
                "SUPABASE_PROJECT_REF": args.supabase.project_ref,
                "SUPABASE_API_URL": args.supabase.api_url,
                "ACCESS_TOKEN_SECRET_ARN": token.arn,
                "METRIC_NAMESPACE": METRIC_NAMESPACE,
            }},
            logging_config={"log_format": "JSON", "log_group": log_group.name},
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group]))
        schedule = aws.cloudwatch.EventRule(
            f"{name}-hourly", schedule_expression="rate(1 hour)", description="Run the backup monitor hourly",
            tags=tags, opts=child)
        aws.cloudwatch.EventTarget(f"{name}-hourly-target", rule=schedule.name, arn=self.function.arn,
                                   opts=pulumi.ResourceOptions(parent=schedule))
        aws.lambda_.Permission(
            f"{name}-invoked-by-schedule", action="lambda:InvokeFunction", function=self.function.name,
            principal="events.amazonaws.com", source_arn=schedule.arn, opts=pulumi.ResourceOptions(parent=schedule))

        dimensions = {"Environment": args.ctx.environment}
        self.alarms = [
            aws.cloudwatch.MetricAlarm(
                f"{name}-{spec['name']}",
                name=f"kingtavo-{args.ctx.environment}-{spec['name']}",
                alarm_description=spec["description"],
                namespace=METRIC_NAMESPACE,
                metric_name=spec["metric"],
                dimensions=dimensions,
                statistic=spec["statistic"],
                period=3600,
                evaluation_periods=1,
                datapoints_to_alarm=1,
                comparison_operator=spec["operator"],
                threshold=spec["threshold"],
                treat_missing_data=spec["missing"],
                alarm_actions=[args.critical_topic_arn],
                ok_actions=[args.critical_topic_arn],
                tags={**tags, "severity": "critical"},
                opts=child)
            for spec in alarm_specs(args.settings, args.require_pitr)
        ]
        aws.cloudwatch.MetricAlarm(
            f"{name}-monitor-errors",
            name=f"kingtavo-{args.ctx.environment}-backup-monitor-errors",
            alarm_description="The backup monitor Lambda failed (an API error or a bug); see its log group.",
            namespace="AWS/Lambda", metric_name="Errors", dimensions={"FunctionName": self.function.name},
            statistic="Sum", period=3600, evaluation_periods=1, comparison_operator="GreaterThanThreshold",
            threshold=0, treat_missing_data="notBreaching", alarm_actions=[args.warning_topic_arn],
            tags={**tags, "severity": "warning"}, opts=child)
        self.register_outputs({"functionName": self.function.name})


@dataclass(frozen=True)
class BackupDumpJobArgs:
    ctx: StackContext
    settings: BackupsSettings
    k8s_provider: k8s.Provider
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    bucket_name: pulumi.Input[str]
    bucket_arn: pulumi.Input[str]
    secrets_kms_key_arn: pulumi.Input[str]
    database_host: str
    database_port: int
    database_name: str
    namespace: str = "db-backup"
    # what the Kubernetes objects wait for: the External Secrets operator's CRDs
    k8s_depends_on: Sequence[pulumi.Resource] = ()
    database_user: str = "db_backup"


class BackupDumpJob(pulumi.ComponentResource):
    """The nightly pg_dump CronJob, its read-only database credential and the identity that uploads."""

    def __init__(self, name: str, args: BackupDumpJobArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kingtavo:backups:BackupDumpJob", name, None, opts)
        tags = args.ctx.tags("backups")
        self.credential = self._credential(name, args, tags)
        identity = ServiceNamespace(f"{name}-identity", ServiceNamespaceArgs(
            args.ctx, namespace=args.namespace, service_account="db-backup",
            k8s_provider=args.k8s_provider, oidc_provider_arn=args.oidc_provider_arn, oidc_issuer=args.oidc_issuer),
            opts=pulumi.ResourceOptions(parent=self))
        identity.role.grant(f"{name}-upload-and-read-credential", pulumi.Output.all(
            args.bucket_arn, args.ctx.key_arn, self.credential.arn, args.secrets_kms_key_arn).apply(
            lambda v: [
                {"Sid": "WriteDumps", "Effect": "Allow", "Action": "s3:PutObject", "Resource": f"{v[0]}/*"},
                {"Sid": "EncryptDumps", "Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Encrypt"],
                 "Resource": v[1]},
                {"Sid": "ReadCredential", "Effect": "Allow",
                 "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], "Resource": v[2]},
                {"Sid": "DecryptCredential", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": v[3],
                 "Condition": {"StringEquals": {
                     "kms:ViaService": f"secretsmanager.{args.ctx.aws.region}.amazonaws.com"}}},
            ]))
        synced = SyncedSecret(f"{name}-credential-sync", SyncedSecretArgs(
            namespace=identity.namespace_name, service_account="db-backup", region=args.ctx.aws.region,
            target_name="db-backup-credential", k8s_provider=args.k8s_provider,
            depends_on=[identity, *args.k8s_depends_on],
            keys={"PGHOST": SecretKey(self.credential.arn, "host"), "PGPORT": SecretKey(self.credential.arn, "port"),
                  "PGDATABASE": SecretKey(self.credential.arn, "dbname"),
                  "PGUSER": SecretKey(self.credential.arn, "username"),
                  "PGPASSWORD": SecretKey(self.credential.arn, "password")}),
            opts=pulumi.ResourceOptions(parent=self))
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=args.k8s_provider, depends_on=[identity])
        scripts = k8s.core.v1.ConfigMap(
            f"{name}-scripts",
            metadata={"name": "db-backup-scripts", "namespace": identity.namespace_name},
            data={"dump.sh": (SCRIPTS_DIR / "dump.sh").read_text(),
                  "fingerprint.sql": (SCRIPTS_DIR / "fingerprint.sql").read_text(),
                  "upload.sh": UPLOAD_SCRIPT},
            opts=k8s_opts)
        self.cron_job = k8s.batch.v1.CronJob(
            f"{name}-cronjob",
            metadata={"name": "db-backup", "namespace": identity.namespace_name,
                      "labels": {"app.kubernetes.io/name": "db-backup"}},
            spec={
                "schedule": args.settings.dump_schedule,
                "timeZone": "Etc/UTC",
                "concurrencyPolicy": "Forbid",
                "startingDeadlineSeconds": 3600,
                "successfulJobsHistoryLimit": 3,
                "failedJobsHistoryLimit": 5,
                "jobTemplate": {"spec": {
                    "backoffLimit": 2,
                    "activeDeadlineSeconds": 3 * 3600,
                    "template": {
                        "metadata": {"labels": {"app.kubernetes.io/name": "db-backup"}},
                        "spec": self._pod_spec(args, synced, scripts),
                    },
                }},
            },
            opts=pulumi.ResourceOptions(parent=self, provider=args.k8s_provider, depends_on=[identity, synced,
                                                                                            scripts]))
        self.register_outputs({"credentialSecretArn": self.credential.arn})

    def _credential(self, name: str, args: BackupDumpJobArgs, tags: dict) -> aws.secretsmanager.Secret:
        """The read-only backup role's credential: generated and encrypted with the secrets key."""
        password = random.RandomPassword(f"{name}-db-password", length=40, special=False,
                                         opts=pulumi.ResourceOptions(parent=self))
        secret = aws.secretsmanager.Secret(
            f"{name}-db-credential",
            name=f"kingtavo/{args.ctx.environment}/db-backup",
            description="Read-only database credential of the nightly dump job",
            kms_key_id=args.secrets_kms_key_arn,
            recovery_window_in_days=30 if args.ctx.protect else 7,
            # rotated by the secret store's rotation function (SecretStore.rotate, in __main__.py)
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=args.ctx.protect))
        aws.secretsmanager.SecretVersion(
            f"{name}-db-credential-initial", secret_id=secret.id,
            secret_string=password.result.apply(lambda value: json.dumps({
                "engine": "postgres", "host": args.database_host, "port": args.database_port,
                "dbname": args.database_name, "username": args.database_user, "password": value})),
            # After the first rotation the Lambda owns the value: never write the initial one back.
            opts=pulumi.ResourceOptions(parent=secret, ignore_changes=["secretString"]))
        return secret

    @staticmethod
    def _pod_spec(args: BackupDumpJobArgs, synced: SyncedSecret, scripts: k8s.core.v1.ConfigMap) -> dict:
        hardened = {"runAsNonRoot": True, "runAsUser": 70, "runAsGroup": 70, "allowPrivilegeEscalation": False,
                    "readOnlyRootFilesystem": True, "privileged": False, "capabilities": {"drop": ["ALL"]},
                    "seccompProfile": {"type": "RuntimeDefault"}}
        credential_env = [{"name": env, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
                          for env, (secret, key) in sorted(synced.env().items())]
        mounts = [{"name": "dump", "mountPath": "/dump"}, {"name": "scripts", "mountPath": "/scripts"},
                  {"name": "tmp", "mountPath": "/tmp"}]  # noqa: S108 - an emptyDir, not the host's /tmp
        return {
            "serviceAccountName": "db-backup",
            "automountServiceAccountToken": False,
            "restartPolicy": "OnFailure",
            "securityContext": {"runAsNonRoot": True, "fsGroup": 70, "seccompProfile": {"type": "RuntimeDefault"}},
            "initContainers": [{
                "name": "pg-dump",
                "image": PG_DUMP_IMAGE,
                "command": ["sh", "/scripts/dump.sh"],
                "env": [*credential_env,
                        {"name": "DUMP_DIR", "value": "/dump"}, {"name": "SCRIPTS_DIR", "value": "/scripts"},
                        {"name": "DUMP_SCHEMAS", "value": DUMP_SCHEMAS},
                        {"name": "ENVIRONMENT", "value": args.ctx.environment},
                        {"name": "PGSSLMODE", "value": "require"}],
                "resources": {"requests": {"cpu": "250m", "memory": "256Mi"},
                              "limits": {"cpu": "1", "memory": "1Gi"}},
                "securityContext": hardened,
                "volumeMounts": mounts,
            }],
            "containers": [{
                "name": "upload",
                "image": AWS_CLI_IMAGE,
                "command": ["sh", "/scripts/upload.sh"],
                "env": [{"name": "BACKUP_BUCKET", "value": args.bucket_name},
                        {"name": "KMS_KEY_ARN", "value": args.ctx.key_arn},
                        {"name": "HOME", "value": "/tmp"}],  # noqa: S108 - the emptyDir mounted there
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                              "limits": {"cpu": "500m", "memory": "256Mi"}},
                "securityContext": {**hardened, "runAsUser": 1000, "runAsGroup": 1000},
                "volumeMounts": mounts,
            }],
            "volumes": [{"name": "dump", "emptyDir": {"sizeLimit": "20Gi"}},
                        {"name": "scripts", "configMap": {"name": "db-backup-scripts", "defaultMode": 0o555}},
                        {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}],
        }
