"""Customer-managed KMS keys: rotation on, a deletion window, and a key policy with no `*` principal.

`PlatformKey` is the key for operational data that AWS services write for us (flow logs and
other CloudWatch log groups, the SNS alert topics, the backup archive): its policy lets the
account administer it and lets exactly those services use it in this account and region.
Secrets have a key of their own (components/secrets/etl_secrets.py) so that reading a secret and
reading a log are separate permissions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class AwsContext:
    """Where the stack runs: account, region and partition, looked up once by the composition root."""

    account_id: str
    region: str
    partition: str

    @property
    def root_arn(self) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:root"

    @staticmethod
    def lookup() -> AwsContext:
        identity = aws.get_caller_identity()
        region = aws.get_region()
        partition = aws.get_partition()
        return AwsContext(account_id=identity.account_id, region=region.region, partition=partition.partition)


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


@dataclass(frozen=True)
class PlatformKeyArgs:
    environment: str
    aws: AwsContext
    deletion_window_days: int = 30
    protect: bool = False


class PlatformKey(pulumi.ComponentResource):
    """The KMS key for logs, alert topics and backups. Output: `arn`."""

    def __init__(self, name: str, args: PlatformKeyArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kingtavo:security:PlatformKey", name, None, opts)
        ctx = args.aws
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                account_admin_statement(ctx),
                {
                    "Sid": "CloudWatchLogsUse",
                    "Effect": "Allow",
                    "Principal": {"Service": f"logs.{ctx.region}.amazonaws.com"},
                    "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                               "kms:Describe*"],
                    "Resource": "*",
                    "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn":
                                              f"arn:{ctx.partition}:logs:{ctx.region}:{ctx.account_id}:*"}},
                },
                service_use_statement("AlarmsAndEventsPublish",
                                      ["cloudwatch.amazonaws.com", "events.amazonaws.com", "sns.amazonaws.com",
                                       "chatbot.amazonaws.com"], ctx),
            ],
        }
        self.key, self.alias = customer_managed_key(
            f"{name}", f"Kingtavo {args.environment}: logs, alert topics and backups", policy,
            args.deletion_window_days, {"kingtavo:environment": args.environment}, parent=self, protect=args.protect)
        self.arn = self.key.arn
        self.register_outputs({"arn": self.arn})
