"""Customer-managed KMS keys: rotation on, a deletion window, and a key policy with no `*` principal.

`PlatformKey` is the key for operational data that AWS services write for us (flow logs and
other CloudWatch log groups, the SNS alert topics, the backup archive): its policy lets the
account administer it and lets exactly those services use it in this account and region.
Secrets have a key of their own (components/secrets/etl_secrets.py) so that reading a secret and
reading a log are separate permissions.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.core.context import StackContext
from components.core.kms import account_admin_statement, customer_managed_key, service_use_statement


@dataclass(frozen=True)
class PlatformKeyArgs:
    ctx: StackContext
    deletion_window_days: int = 30


class PlatformKey(pulumi.ComponentResource):
    """The KMS key for logs, alert topics and backups. Output: `arn`."""

    def __init__(self, name: str, args: PlatformKeyArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kingtavo:security:PlatformKey", name, None, opts)
        ctx = args.ctx.aws
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
            f"{name}", f"Kingtavo {args.ctx.environment}: logs, alert topics and backups", policy,
            args.deletion_window_days, args.ctx.tags(), parent=self, protect=args.ctx.protect)
        self.arn = self.key.arn
        self.register_outputs({"arn": self.arn})
