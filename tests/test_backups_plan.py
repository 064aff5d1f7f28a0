"""The backup archive, the dump job and the backup monitor, from the offline plan."""

from __future__ import annotations

import json

import pytest

from components.backups import retention_days
from components.settings import BackupsSettings
from tests.support.plans import STACKS, plan


def _archive(stack: str, kind: str):
    return plan(stack).one(f"aws:s3/{kind}")


@pytest.mark.parametrize("stack", STACKS)
def test_archive_is_encrypted_with_our_key_versioned_and_private(stack):
    result = plan(stack)
    key_arn = result.one("aws:kms/key:Key", "platform-key").outputs["arn"]
    (rule,) = _archive(stack, "bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
                       ).inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key_arn}
    assert _archive(stack, "bucketVersioning:BucketVersioning").inputs["versioningConfiguration"] == {
        "status": "Enabled"}
    block = _archive(stack, "bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                          "restrictPublicBuckets"))


@pytest.mark.parametrize("stack", STACKS)
def test_archive_refuses_plain_http(stack):
    result = plan(stack)
    bucket_arn = result.one("aws:s3/bucket:Bucket").outputs["arn"]
    (statement,) = json.loads(_archive(stack, "bucketPolicy:BucketPolicy").inputs["policy"])["Statement"]
    assert statement["Effect"] == "Deny" and statement["Action"] == "s3:*"
    assert statement["Resource"] == [bucket_arn, f"{bucket_arn}/*"]
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


@pytest.mark.parametrize("stack", STACKS)
def test_lifecycle_keeps_daily_weekly_monthly_for_7_28_180_days(stack):
    rules = {r["id"]: r for r in _archive(stack, "bucketLifecycleConfiguration:BucketLifecycleConfiguration"
                                          ).inputs["rules"]}
    assert {tier: (rules[f"expire-{tier}"]["filter"]["prefix"], rules[f"expire-{tier}"]["expiration"]["days"])
            for tier in ("daily", "weekly", "monthly")} == {
        "daily": ("daily/", 7), "weekly": ("weekly/", 28), "monthly": ("monthly/", 180)}
    assert all(r["status"] == "Enabled" for r in rules.values())


def test_retention_follows_the_setting():
    rules = {r["id"]: r for r in plan("staging", "backups.weeklyRetention=8").one(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs["rules"]}
    assert rules["expire-weekly"]["expiration"]["days"] == 56
    assert retention_days(BackupsSettings(point_in_time_recovery=True)) == {"daily": 7, "weekly": 28,
                                                                             "monthly": 180}


def test_production_archive_is_protected():
    assert plan("production").one("aws:s3/bucket:Bucket").protect
    assert not plan("staging").one("aws:s3/bucket:Bucket").protect
