"""The backup monitor: a Lambda, run hourly, that reads the Management API's backup list and publishes
CloudWatch metrics, and alarms on them that page (the critical topic): the last completed backup
older than maxBackupAgeHours, a failed backup, point-in-time recovery off where the environment
requires it, the newest dump in the archive older than maxDumpAgeHours, and the monitor itself
silent (missing data breaches). Every alarm's description ends with its runbook page. Each run is also
recorded in `ops.backup_checks` as the ops recorder login (`ops_recorder_secret_arn`), never failing the run.

The dump age (`HoursSinceNewestDump`) comes from lambdas/backup_monitor/dump_age.py: the handler lists the
archive's tier prefixes (`BACKUP_BUCKET`) and publishes the hours since the newest `.dump`, whatever tier the
night wrote it to (the dump job writes one a night, to `daily/`, `weekly/` or `monthly/`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.alerting.routing import AlarmTargets
from components.core.context import StackContext, manual_rotation_tags
from components.core.lambda_function import (
    ErrorsAlarm,
    PythonFunction,
    PythonFunctionArgs,
    moved_from_component,
    write_own_logs_statement,
)
from components.core.secret_policy import restrict_reads
from components.core.settings import BackupsSettings, SupabaseSettings
from components.secrets.rotation import PACKAGED_DATABASE_CA

METRIC_NAMESPACE = "Kingtavo/Backups"


@dataclass(frozen=True)
class BackupMonitorArgs:
    ctx: StackContext
    settings: BackupsSettings
    supabase: SupabaseSettings
    secrets_kms_key_arn: pulumi.Input[str]
    access_token: pulumi.Input[str]  # the Supabase Management API token, a Pulumi secret
    alarms: AlarmTargets  # AlertRouting.targets: the topics and the runbook base URL
    bucket_name: pulumi.Input[str]  # the archive the dump job writes to (BackupArchive)
    bucket_arn: pulumi.Input[str]
    require_pitr: bool
    recovery_window_days: int  # secrets.recoveryWindowDays
    log_retention_days: int  # cluster.logRetentionDays: the stack's log retention, for the monitor's logs
    code: pulumi.Archive | None = None
    # the ops record's writer credential (AlertRecorder.secret_arn): each run is recorded in ops.backup_checks
    ops_recorder_secret_arn: pulumi.Input[str] | None = None


def alarm_specs(settings: BackupsSettings, require_pitr: bool) -> list[dict]:
    """The backup alarms: what they watch, their threshold, what missing data means and their runbook."""
    specs = [
        {"name": "backup-stale", "metric": "HoursSinceLastCompletedBackup", "statistic": "Maximum",
         "operator": "GreaterThanThreshold", "threshold": settings.max_backup_age_hours,
         "missing": "breaching",  # the monitor stopped reporting: page too
         "runbook": "supabase-backup-stale",
         "description": f"The last completed Supabase backup is older than {settings.max_backup_age_hours} hours, "
                        f"or the backup monitor stopped reporting."},
        {"name": "backup-failed", "metric": "FailedBackups", "statistic": "Maximum",
         "operator": "GreaterThanThreshold", "threshold": 0, "missing": "notBreaching",
         "runbook": "supabase-backup-failed", "description": "A Supabase backup failed in the last day."},
        {"name": "backup-future-dated", "metric": "FutureDatedBackups", "statistic": "Maximum",
         "operator": "GreaterThanThreshold", "threshold": 0, "missing": "notBreaching", "severity": "warning",
         "runbook": "supabase-backup-future-dated",
         "description": "Supabase lists a backup dated in the future: it is not counted as fresh, so the backup "
                        "age alarm is not fooled, but the clock or the API answer is wrong."},
        {"name": "dump-stale", "metric": "HoursSinceNewestDump", "statistic": "Maximum",
         "operator": "GreaterThanThreshold", "threshold": settings.max_dump_age_hours, "missing": "breaching",
         "runbook": "backup-dump-stale",
         "description": f"The newest database dump in the backup archive is older than {settings.max_dump_age_hours} "
                        f"hours, or the backup monitor stopped reporting."},
    ]
    if require_pitr:
        specs.append({"name": "pitr-off", "metric": "PitrEnabled", "statistic": "Minimum",
                      "operator": "LessThanThreshold", "threshold": 1, "missing": "breaching",
                      "runbook": "supabase-pitr-off",
                      "description": "Point-in-time recovery is off for the production database."})
    return specs


class BackupMonitor(pulumi.ComponentResource):
    """The hourly backup monitor Lambda, its schedule, and the alarms on its metrics."""

    def __init__(self, name: str, args: BackupMonitorArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kingtavo:backups:BackupMonitor", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = args.ctx.tags("backups")

        token = aws.secretsmanager.Secret(
            f"{name}-supabase-token",
            name=f"kingtavo/{args.ctx.environment}/supabase-management-token",
            description="Supabase Management API token the backup monitor reads",
            kms_key_id=args.secrets_kms_key_arn,
            recovery_window_in_days=args.recovery_window_days,
            # Supabase access tokens are issued in its dashboard; Secrets Manager cannot rotate them.
            tags={**tags, **manual_rotation_tags(
                "Supabase issues access tokens in its dashboard. Rotate there, then set config")},
            opts=pulumi.ResourceOptions(parent=self, protect=args.ctx.protect))
        aws.secretsmanager.SecretVersion(f"{name}-supabase-token-value", secret_id=token.id,
                                         secret_string=args.access_token, opts=pulumi.ResourceOptions(parent=token))

        region = args.ctx.aws.region
        self.function = PythonFunction(name, PythonFunctionArgs(
            args.ctx, "backups", "backup-monitor",
            code=args.code or pulumi.FileArchive("build/lambdas/backup_monitor.zip"),
            policy=lambda log_group_arn: pulumi.Output.all(
                token.arn, log_group_arn, args.secrets_kms_key_arn, args.bucket_arn,
                args.ops_recorder_secret_arn).apply(
                lambda v: {"Version": "2012-10-17", "Statement": [
                    # object listing only (keys, sizes, times): the monitor never reads a dump
                    {"Sid": "ListDumps", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": v[3],
                     "Condition": {"StringLike": {"s3:prefix": ["daily/*", "weekly/*", "monthly/*"]}}},
                    {"Sid": "ReadToken", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                     "Resource": v[0]},
                    {"Sid": "DecryptToken", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": v[2],
                     "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}}},
                    {"Sid": "PublishMetrics", "Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*",
                     "Condition": {"StringEquals": {"cloudwatch:namespace": METRIC_NAMESPACE}}},
                    write_own_logs_statement(v[1]),
                    # the same key (the secrets key) decrypts it, through Secrets Manager, as DecryptToken allows
                    *([{"Sid": "ReadTheOpsRecorderCredential", "Effect": "Allow",
                        "Action": "secretsmanager:GetSecretValue", "Resource": v[4]}] if v[4] else []),
                ]}),
            log_retention_days=args.log_retention_days,
            environment={
                "ENVIRONMENT": args.ctx.environment,
                "SUPABASE_PROJECT_REF": args.supabase.project_ref,
                "SUPABASE_API_URL": args.supabase.api_url,
                "ACCESS_TOKEN_SECRET_ARN": token.arn,
                "METRIC_NAMESPACE": METRIC_NAMESPACE,
                "BACKUP_BUCKET": args.bucket_name,
                # what a passing check is, for its row in ops.backup_checks (the alarms judge the metrics)
                "MAX_BACKUP_AGE_HOURS": str(args.settings.max_backup_age_hours),
                "REQUIRE_PITR": "true" if args.require_pitr else "false",
                **({"OPS_RECORDER_SECRET_ARN": args.ops_recorder_secret_arn,
                    "PGSSLROOTCERT": PACKAGED_DATABASE_CA} if args.ops_recorder_secret_arn is not None else {}),
            },
            errors_alarm=ErrorsAlarm(
                args.alarms.warning_topic_arn, period=3600, description=args.alarms.describe(
                    "The backup monitor Lambda failed (an API error or a bug); see its log group.",
                    "backup-monitor-errors")),
            moved_from=moved_from_component(self, role_name=f"{name}-role", role_parts=("policy",)),
            legacy_names={"errors": f"{name}-monitor-errors"}),
            opts=child)
        restrict_reads(f"{name}-supabase-token", token, [self.function.role_arn], [], args.ctx.aws.partition,
                       parent=self)  # only the monitor reads the token
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
                alarm_description=args.alarms.describe(spec["description"], spec["runbook"]),
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
                alarm_actions=[args.alarms.topic(spec.get("severity", "critical"))],
                ok_actions=[args.alarms.topic(spec.get("severity", "critical"))],
                tags={**tags, "severity": spec.get("severity", "critical")},
                opts=child)
            for spec in alarm_specs(args.settings, args.require_pitr)
        ]
        self.register_outputs({"functionName": self.function.name})
