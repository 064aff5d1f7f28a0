"""Where a stack runs and what every component needs to know about it: one `StackContext`.

The composition root builds it once (the environment from the table, the AWS account and
region looked up, then the platform key) and hands it to every component, so no component
takes `environment=`, `protect=` or `aws=` one by one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.core.environments import Environment


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


@dataclass(frozen=True)
class StackContext:
    """The environment, the AWS account and region, and the platform key (logs, topics, backups, images)."""

    env: Environment
    aws: AwsContext
    platform_key_arn: pulumi.Input[str] | None = None

    @property
    def environment(self) -> str:
        return self.env.name

    @property
    def protect(self) -> bool:
        return self.env.protect

    def with_platform_key(self, arn: pulumi.Input[str]) -> StackContext:
        return dataclasses.replace(self, platform_key_arn=arn)

    @property
    def key_arn(self) -> pulumi.Input[str]:
        """The platform key's ARN; a component that encrypts with it fails early if it is not built yet."""
        if self.platform_key_arn is None:
            raise ValueError("StackContext.platform_key_arn: build the PlatformKey first (ctx.with_platform_key)")
        return self.platform_key_arn

    def tags(self, plane: str | None = None, **extra: str) -> dict[str, str]:
        """`kingtavo:environment` (and `kingtavo:plane`) plus extra tags: the tags every resource carries."""
        return tag_set(self.environment, plane, **extra)


def tag_set(environment: str, plane: str | None = None, **extra: str) -> dict[str, str]:
    tags = {"kingtavo:environment": environment}
    if plane is not None:
        tags["kingtavo:plane"] = plane
    return {**tags, **extra}


def manual_rotation_tags(reason: str) -> dict[str, str]:
    """Tags for a secret Secrets Manager cannot rotate: a person does, and `reason` says how.

    The policy pack accepts these instead of a SecretRotation. Tag values allow only letters, digits,
    spaces and `_ . : / = + - @`.
    """
    return {"rotation": "manual", "rotation-reason": reason}
