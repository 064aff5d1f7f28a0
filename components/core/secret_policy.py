"""Every Secrets Manager secret's resource policy: its readers may read it, every other principal is denied.

A leaf module (core): the secrets plane, the backups plane and the alerting plane all give their
secrets this policy, and none of them may import another plane for it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

READ_VALUE = "secretsmanager:GetSecretValue"


def principal_arn_patterns(caller_arn: str, partition: str) -> list[str]:
    """`aws:PrincipalArn` patterns that match the caller: an assumed role's session maps to its role (any path)."""
    if ":assumed-role/" not in caller_arn:
        return [caller_arn]  # an IAM user or the account root: the caller ARN is the principal ARN
    account = caller_arn.split(":")[4]
    role_name = caller_arn.split(":assumed-role/", 1)[1].split("/", 1)[0]
    base = f"arn:{partition}:iam::{account}:role"
    return [f"{base}/{role_name}", f"{base}/*/{role_name}"]


def readable_only_by_policy(reader_arns: Sequence[str], also_excepted: Sequence[str]) -> dict:
    """A secret's resource policy: the readers may read it; every other principal is denied its value.

    `also_excepted` are principals that the deny spares but the policy does not grant anything
    (the rotation function and the deployer get their access from their own IAM policies).
    """
    readers = sorted(reader_arns)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ReadersMayRead", "Effect": "Allow", "Principal": {"AWS": readers},
             "Action": [READ_VALUE, "secretsmanager:DescribeSecret"], "Resource": "*"},
            {"Sid": "NobodyElseMayRead", "Effect": "Deny", "Principal": "*", "Action": READ_VALUE, "Resource": "*",
             "Condition": {"StringNotLike": {"aws:PrincipalArn": [*readers, *sorted(also_excepted)]}}},
        ],
    }


def restrict_reads(resource_name: str, secret: aws.secretsmanager.Secret, readers: Sequence[pulumi.Input[str]],
                   excepted: Sequence[pulumi.Input[str]], partition: str, parent: pulumi.Resource
                   ) -> aws.secretsmanager.SecretPolicy:
    """Every secret's resource policy: `readers` may read it, everybody else is denied its value except the
    `excepted` (a rotation function) and the identity that deploys the stack (the provider reads back)."""
    deployer = principal_arn_patterns(aws.get_caller_identity(opts=pulumi.InvokeOptions(parent=parent)).arn,
                                      partition)
    count = len(readers)
    policy = pulumi.Output.all(*readers, *excepted).apply(
        lambda arns: json.dumps(readable_only_by_policy(arns[:count], [*arns[count:], *deployer])))
    return aws.secretsmanager.SecretPolicy(f"{resource_name}-policy", secret_arn=secret.arn, policy=policy,
                                           block_public_policy=True, opts=pulumi.ResourceOptions(parent=parent))
