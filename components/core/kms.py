"""KMS key building blocks every plane uses: the account-admin statement, a service-use statement, and a
customer-managed key with rotation and an alias unique per account, region and environment."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from components.core.context import AwsContext


def account_admin_statement(aws_ctx: AwsContext) -> dict:
    """The account (through IAM) administers the key; never a `*` principal."""
    return {
        "Sid": "AccountAdministers",
        "Effect": "Allow",
        "Principal": {"AWS": aws_ctx.root_arn},
        "Action": "kms:*",
        "Resource": "*",
    }


def service_use_statement(sid: str, services: list[str], aws_ctx: AwsContext) -> dict:
    """Let AWS services encrypt and decrypt with the key on behalf of this account only."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": services},
        "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:SourceAccount": aws_ctx.account_id}},
    }


def customer_managed_key(name: str, description: str, policy: dict, deletion_window_days: int, tags: dict,
                         parent: pulumi.Resource, protect: bool) -> tuple[aws.kms.Key, aws.kms.Alias]:
    """A symmetric key with yearly automatic rotation and an alias `alias/kingtavo/<environment>/<name>`.

    The environment comes from the `kingtavo:environment` tag every key carries; it is in the alias because
    aliases are unique per account and region, and both stacks may share an account. Only the key is
    protected: the alias can be recreated, the key's data cannot.
    """
    environment = tags["kingtavo:environment"]
    key = aws.kms.Key(
        name,
        description=description,
        enable_key_rotation=True,
        rotation_period_in_days=365,
        deletion_window_in_days=deletion_window_days,
        policy=json.dumps(policy),
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent, protect=protect),
    )
    alias = aws.kms.Alias(f"{name}-alias", name=f"alias/kingtavo/{environment}/{name}", target_key_id=key.key_id,
                          opts=pulumi.ResourceOptions(parent=parent))
    return key, alias
