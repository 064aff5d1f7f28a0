"""AWS: secret stores and logs use customer-managed KMS keys that rotate; Lambda environments hold no secrets."""

from __future__ import annotations

from collections.abc import Iterator

from ..catalogue import is_public_by_design, is_secret_name
from .base import UNKNOWN, Subject, dig, is_literal, resource_policy, shaped

LAMBDA_FUNCTION = "aws:lambda/function:Function"
SECRETS_MANAGER_SECRET = "aws:secretsmanager/secret:Secret"


def is_aws_managed_key(key: str) -> bool:
    """`alias/aws/...` (or its ARN) is a key AWS manages: its policy cannot be restricted."""
    return key.startswith("alias/aws/") or ":alias/aws/" in key


def check_secretsmanager_kms(subject: Subject) -> Iterator[str]:
    if subject.type != SECRETS_MANAGER_SECRET:
        return
    key = subject.props.get("kmsKeyId")
    fix = "set kms_key_id to a customer-managed KMS key (rotation on) dedicated to secrets"
    if key is None or key == "":
        yield subject.say("kmsKeyId is not set, so Secrets Manager encrypts with the AWS managed key "
                          "aws/secretsmanager, whose key policy cannot be restricted", fix)
    elif isinstance(key, str) and is_aws_managed_key(key):
        yield subject.say(f"kmsKeyId is the AWS managed key '{key}', whose key policy cannot be restricted", fix)


def check_kms_rotation(subject: Subject) -> Iterator[str]:
    if subject.type != "aws:kms/key:Key":
        return
    spec = subject.props.get("customerMasterKeySpec") or subject.props.get("keySpec") or "SYMMETRIC_DEFAULT"
    enabled = subject.props.get("enableKeyRotation")
    if spec != "SYMMETRIC_DEFAULT" or enabled is True or enabled is UNKNOWN:
        return  # AWS rotates only symmetric encryption keys automatically
    yield subject.say(f"enableKeyRotation is {enabled!r}, so the key material is never rotated",
                      "set enable_key_rotation=True (and rotation_period_in_days if a year is too long)")


def check_eks_secrets_encryption(subject: Subject) -> Iterator[str]:
    if subject.type != "aws:eks/cluster:Cluster":
        return
    config = subject.props.get("encryptionConfig")
    if isinstance(config, list):
        config = config[0] if config else None
    fix = "set encryption_config with resources=['secrets'] and provider.key_arn of a customer-managed KMS key"
    if config is UNKNOWN:
        return
    if not isinstance(config, dict):
        yield subject.say("encryptionConfig is not set, so Kubernetes Secrets sit in etcd without envelope "
                          "encryption", fix)
        return
    resources, key_arn = config.get("resources"), dig(config, "provider", "keyArn")
    if isinstance(resources, list) and "secrets" not in resources:
        yield subject.say(f"encryptionConfig.resources is {resources!r}, which leaves out 'secrets'", fix)
    if key_arn is None or key_arn == "":
        yield subject.say("encryptionConfig.provider.keyArn is not set", fix)


def check_sns_kms(subject: Subject) -> Iterator[str]:
    if subject.type != "aws:sns/topic:Topic":
        return
    key = subject.props.get("kmsMasterKeyId")
    fix = "set kms_master_key_id to a customer-managed KMS key whose policy lets CloudWatch and EventBridge use it"
    if key is None or key == "":
        yield subject.say("kmsMasterKeyId is not set, so messages (alert payloads) are stored unencrypted", fix)
    elif isinstance(key, str) and is_aws_managed_key(key):
        yield subject.say(f"kmsMasterKeyId is the AWS managed key '{key}', which CloudWatch alarms cannot use", fix)


def check_log_group_kms(subject: Subject) -> Iterator[str]:
    if subject.type != "aws:cloudwatch/logGroup:LogGroup":
        return
    key = subject.props.get("kmsKeyId")
    if key is None or key == "":
        yield subject.say("kmsKeyId is not set, so the logs are encrypted only with a key nobody can restrict",
                          "set kms_key_id to a customer-managed KMS key whose policy lets logs.<region> use it")


def check_lambda_environment(subject: Subject) -> Iterator[str]:
    if subject.type != LAMBDA_FUNCTION:
        return
    variables = dig(subject.props, "environment", "variables")
    for name, value in (variables.items() if isinstance(variables, dict) else []):
        kind = shaped(value)
        secret_name = is_secret_name(name) and not is_public_by_design(name, value if isinstance(value, str) else None)
        if secret_name and is_literal(value):
            problem = "looks secret and is set as a literal" + (f" that is secret-shaped ({kind})" if kind else "")
        elif kind:
            problem = f"holds a secret-shaped value ({kind})"
        else:
            continue
        yield subject.say(
            f"environment.variables.{name} {problem}, readable by anyone allowed lambda:GetFunctionConfiguration",
            f"keep the value in Secrets Manager, pass its ARN (e.g. {name}_ARN) and read it at run time")


POLICIES = {
    "secretsmanager-customer-managed-kms": resource_policy(
        "secretsmanager-customer-managed-kms",
        "Secrets Manager secrets are encrypted with a customer-managed KMS key, not aws/secretsmanager.",
        check_secretsmanager_kms, "Set kms_key_id to the secrets KMS key."),
    "kms-key-rotation-enabled": resource_policy(
        "kms-key-rotation-enabled",
        "Symmetric KMS keys have automatic key rotation enabled.",
        check_kms_rotation, "Set enable_key_rotation=True."),
    "eks-secrets-encryption": resource_policy(
        "eks-secrets-encryption",
        "EKS clusters envelope-encrypt Kubernetes Secrets with a KMS key.",
        check_eks_secrets_encryption, "Set encryption_config(resources=['secrets'], provider.key_arn=<KMS key>)."),
    "sns-topic-kms-encryption": resource_policy(
        "sns-topic-kms-encryption",
        "SNS topics are encrypted with a customer-managed KMS key.",
        check_sns_kms, "Set kms_master_key_id to a customer-managed key."),
    "cloudwatch-log-group-kms-encryption": resource_policy(
        "cloudwatch-log-group-kms-encryption",
        "CloudWatch log groups are encrypted with a KMS key.",
        check_log_group_kms, "Set kms_key_id on the log group."),
    "lambda-environment-no-secrets": resource_policy(
        "lambda-environment-no-secrets",
        "Lambda environment variables hold no secret-looking literal and no secret-shaped value.",
        check_lambda_environment, "Pass a Secrets Manager ARN and read the secret at run time."),
}
