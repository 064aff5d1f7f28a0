"""The nightly dump job: a Kubernetes CronJob that writes a logical dump of the database to the archive.

It takes a `pg_dump --format=custom` with a read-only database credential from Secrets Manager
(generated here, rotated by the ETL's `PostgresRotator`) and writes it to the tier of the day:
the first of the month to `monthly/`, Sundays to `weekly/`, other days to `daily/`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.compute.namespace import Fence, ServiceNamespace, ServiceNamespaceArgs
from components.core.context import StackContext
from components.core.secret_policy import restrict_reads
from components.core.settings import BackupsSettings, SupabaseSettings
from components.secrets.external_secrets import SecretKey, SyncedSecret, SyncedSecretArgs
from components.secrets.rotation import PostgresRotator, database_credential

PG_DUMP_IMAGE = "postgres:15.14-alpine@sha256:64583b3cb4f2010277bdd9749456de78e5c36f8956466ba14b0b96922e510950"
AWS_CLI_IMAGE = "public.ecr.aws/aws-cli/aws-cli:2.31.21@sha256:40033dc921634b1073094712ea8237869bc857cd7ddc2571896ec9b14ef97ae8"  # noqa: E501 - one string, as Renovate updates it
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
    database: SupabaseSettings  # where the database is: host, port, name
    rotator: PostgresRotator  # rotates the dump job's credential like the ETL's
    rotation_days: int  # secrets.rotationDays
    recovery_window_days: int  # secrets.recoveryWindowDays
    fence: Fence | None = None  # the namespace's NetworkPolicies
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
        args.rotator.rotate(f"{name}-credential", self.credential, args.rotation_days)
        identity = ServiceNamespace(f"{name}-identity", ServiceNamespaceArgs(
            args.ctx, namespace=args.namespace, service_account="db-backup", fence=args.fence,
            k8s_provider=args.k8s_provider, oidc_provider_arn=args.oidc_provider_arn, oidc_issuer=args.oidc_issuer),
            opts=pulumi.ResourceOptions(parent=self))
        # only the dump job reads the credential; the rotation function is spared the deny
        restrict_reads(f"{name}-db-credential", self.credential, [identity.role.arn], [args.rotator.role_arn],
                       args.ctx.aws.partition, parent=self)
        identity.role.grant(f"{name}-upload-and-read-credential", pulumi.Output.all(
            args.bucket_arn, args.ctx.key_arn, self.credential.arn, args.secrets_kms_key_arn).apply(
            lambda v: [
                {"Sid": "WriteDumps", "Effect": "Allow", "Action": "s3:PutObject", "Resource": f"{v[0]}/*"},
                # a multipart upload (the AWS CLI splits dumps over 8 MiB) reads back its data keys: Decrypt too
                {"Sid": "EncryptDumps", "Effect": "Allow",
                 "Action": ["kms:GenerateDataKey", "kms:Encrypt", "kms:Decrypt"], "Resource": v[1],
                 "Condition": {"StringEquals": {"kms:ViaService": f"s3.{args.ctx.aws.region}.amazonaws.com"}}},
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
            recovery_window_in_days=args.recovery_window_days,
            # rotated by the ETL's PostgresRotator (args.rotator)
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=args.ctx.protect))
        aws.secretsmanager.SecretVersion(
            f"{name}-db-credential-initial", secret_id=secret.id,
            secret_string=password.result.apply(
                lambda value: database_credential(args.database, args.database_user, value)),
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
