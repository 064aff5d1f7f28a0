"""The backup archive: the S3 bucket for the tiers Supabase does not keep.

Supabase takes the daily snapshots (and point-in-time recovery in production). The archive is
encrypted with the platform KMS key, versioned, public access blocked, TLS-only, with lifecycle
rules per tier prefix: `daily/` kept dailyRetention days, `weekly/` weeklyRetention weeks,
`monthly/` monthlyRetention months (7 / 28 / 180 days by default). The nightly dump job
(dump_job.py) writes into it; the backup monitor (monitor.py) watches Supabase's own backups.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.core.context import StackContext
from components.core.settings import BackupsSettings

TIERS = ("daily", "weekly", "monthly")


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
