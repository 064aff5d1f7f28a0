"""AWS rules (Secrets Manager and SNS keys, KMS rotation, EKS encryption, log groups, Lambda) and exceptions."""

from __future__ import annotations

import pytest
from pulumi_policy.proxy import UNKNOWN_BOOLEAN_VALUE, UNKNOWN_OBJECT_VALUE, UNKNOWN_STRING_VALUE

from tests.support.policy_fixtures import (
    KMS_ARN,
    SECRET,
    SECRET_SHAPED,
    secret_resource,
    sentry_dsn,
    stack_violations,
    urn_of,
    violations,
)

# --- Secrets Manager: customer-managed KMS ----------------------------------------------------------------

SM_FIX = "Fix: set kms_key_id to a customer-managed KMS key (rotation on) dedicated to secrets."


def test_secretsmanager_kms_compliant():
    assert violations("secretsmanager-customer-managed-kms", SECRET, {"name": "db", "kmsKeyId": KMS_ARN}) == []
    assert violations("secretsmanager-customer-managed-kms", SECRET, {"name": "db", "kmsKeyId": UNKNOWN_STRING_VALUE}) \
        == []


def test_secretsmanager_kms_fails_without_a_key():
    assert violations("secretsmanager-customer-managed-kms", SECRET, {"name": "db"}, name="db") == [
        "Secret 'db': kmsKeyId is not set, so Secrets Manager encrypts with the AWS managed key aws/secretsmanager, "
        f"whose key policy cannot be restricted. {SM_FIX}"]


@pytest.mark.parametrize("key", ["alias/aws/secretsmanager",
                                 "arn:aws:kms:eu-central-1:111122223333:alias/aws/secretsmanager"])
def test_secretsmanager_kms_fails_with_the_aws_managed_key(key):
    assert violations("secretsmanager-customer-managed-kms", SECRET, {"name": "db", "kmsKeyId": key}, name="db") == [
        f"Secret 'db': kmsKeyId is the AWS managed key '{key}', whose key policy cannot be restricted. {SM_FIX}"]


# --- KMS, EKS, SNS, CloudWatch Logs -----------------------------------------------------------------------


def test_kms_rotation():
    policy, key = "kms-key-rotation-enabled", "aws:kms/key:Key"
    assert violations(policy, key, {"enableKeyRotation": True}) == []
    assert violations(policy, key, {"enableKeyRotation": UNKNOWN_BOOLEAN_VALUE}) == []
    assert violations(policy, key, {"customerMasterKeySpec": "RSA_2048", "keyUsage": "SIGN_VERIFY"}) == []
    fix = "Fix: set enable_key_rotation=True (and rotation_period_in_days if a year is too long)."
    assert violations(policy, key, {"enableKeyRotation": False}, name="k") == [
        f"Key 'k': enableKeyRotation is False, so the key material is never rotated. {fix}"]
    assert violations(policy, key, {"description": "no rotation set"}, name="k") == [
        f"Key 'k': enableKeyRotation is None, so the key material is never rotated. {fix}"]


EKS = "aws:eks/cluster:Cluster"
EKS_FIX = ("Fix: set encryption_config with resources=['secrets'] and provider.key_arn of a customer-managed KMS "
           "key.")


def test_eks_secrets_encryption_compliant():
    props = {"name": "kingtavo", "encryptionConfig": {"resources": ["secrets"], "provider": {"keyArn": KMS_ARN}}}
    assert violations("eks-secrets-encryption", EKS, props) == []
    props["encryptionConfig"]["provider"]["keyArn"] = UNKNOWN_STRING_VALUE
    assert violations("eks-secrets-encryption", EKS, props) == []
    assert violations("eks-secrets-encryption", EKS, {"encryptionConfig": UNKNOWN_OBJECT_VALUE}) == []


def test_eks_secrets_encryption_fails_without_config():
    assert violations("eks-secrets-encryption", EKS, {"name": "kingtavo"}, name="eks") == [
        f"Cluster 'eks': encryptionConfig is not set, so Kubernetes Secrets sit in etcd without envelope encryption. "
        f"{EKS_FIX}"]


def test_eks_secrets_encryption_fails_without_secrets_resource():
    props = {"encryptionConfig": {"resources": [], "provider": {"keyArn": KMS_ARN}}}
    assert violations("eks-secrets-encryption", EKS, props, name="eks") == [
        f"Cluster 'eks': encryptionConfig.resources is [], which leaves out 'secrets'. {EKS_FIX}"]


def test_eks_secrets_encryption_fails_without_key():
    props = {"encryptionConfig": {"resources": ["secrets"], "provider": {}}}
    assert violations("eks-secrets-encryption", EKS, props, name="eks") == [
        f"Cluster 'eks': encryptionConfig.provider.keyArn is not set. {EKS_FIX}"]


SNS_FIX = ("Fix: set kms_master_key_id to a customer-managed KMS key whose policy lets CloudWatch and EventBridge "
           "use it.")


def test_sns_topic_encryption():
    policy, topic = "sns-topic-kms-encryption", "aws:sns/topic:Topic"
    assert violations(policy, topic, {"kmsMasterKeyId": KMS_ARN}) == []
    assert violations(policy, topic, {"kmsMasterKeyId": UNKNOWN_STRING_VALUE}) == []
    assert violations(policy, topic, {"name": "alerts"}, name="alerts") == [
        f"Topic 'alerts': kmsMasterKeyId is not set, so messages (alert payloads) are stored unencrypted. {SNS_FIX}"]
    assert violations(policy, topic, {"kmsMasterKeyId": "alias/aws/sns"}, name="alerts") == [
        f"Topic 'alerts': kmsMasterKeyId is the AWS managed key 'alias/aws/sns', which CloudWatch alarms cannot use. "
        f"{SNS_FIX}"]


def test_log_group_encryption():
    policy, group = "cloudwatch-log-group-kms-encryption", "aws:cloudwatch/logGroup:LogGroup"
    assert violations(policy, group, {"kmsKeyId": KMS_ARN}) == []
    assert violations(policy, group, {"kmsKeyId": UNKNOWN_STRING_VALUE}) == []
    assert violations(policy, group, {"name": "/aws/lambda/x"}, name="logs") == [
        "LogGroup 'logs': kmsKeyId is not set, so the logs are encrypted only with a key nobody can restrict. Fix: set "
        "kms_key_id to a customer-managed KMS key whose policy lets logs.<region> use it."]


# --- Lambda -----------------------------------------------------------------------------------------------

LAMBDA = "aws:lambda/function:Function"


def lambda_env(variables: object) -> dict:
    return {"runtime": "python3.12", "environment": {"variables": variables}}


def test_lambda_environment_compliant():
    variables = {"SECRETS_MANAGER_ENDPOINT": "https://secretsmanager.eu-central-1.amazonaws.com",
                 "DB_SECRET_ARN": "arn:aws:secretsmanager:eu-central-1:111122223333:secret:db-AbCdEf",
                 "DB_SECRET": "arn:aws:secretsmanager:eu-central-1:111122223333:secret:db-AbCdEf",
                 "SENTRY_DSN": sentry_dsn(), "REGION": UNKNOWN_STRING_VALUE}
    assert violations("lambda-environment-no-secrets", LAMBDA, lambda_env(variables)) == []
    assert violations("lambda-environment-no-secrets", LAMBDA, lambda_env(UNKNOWN_OBJECT_VALUE)) == []


def test_lambda_environment_fails_for_a_secret_looking_literal():
    assert violations("lambda-environment-no-secrets", LAMBDA, lambda_env({"SUPABASE_ACCESS_TOKEN": "fake"}),
                      name="monitor") == [
        "Function 'monitor': environment.variables.SUPABASE_ACCESS_TOKEN looks secret and is set as a literal, "
        "readable by anyone allowed lambda:GetFunctionConfiguration. Fix: keep the value in Secrets Manager, pass its "
        "ARN (e.g. SUPABASE_ACCESS_TOKEN_ARN) and read it at run time."]


def test_lambda_environment_fails_for_a_secret_shaped_value():
    variables = {"DATABASE_URL": SECRET_SHAPED["URL with an embedded password"]()}
    assert violations("lambda-environment-no-secrets", LAMBDA, lambda_env(variables), name="monitor") == [
        "Function 'monitor': environment.variables.DATABASE_URL holds a secret-shaped value (URL with an embedded "
        "password), readable by anyone allowed lambda:GetFunctionConfiguration. Fix: keep the value in Secrets "
        "Manager, pass its ARN (e.g. DATABASE_URL_ARN) and read it at run time."]


def test_lambda_environment_is_judged_once():
    variables = {"UPSTREAM": SECRET_SHAPED["Stripe secret key"]()}
    assert violations("no-secret-shaped-values", LAMBDA, lambda_env(variables)) == []
    assert len(violations("lambda-environment-no-secrets", LAMBDA, lambda_env(variables))) == 1


# --- exceptions -------------------------------------------------------------------------------------------


def test_an_exception_is_per_resource_and_per_rule_and_needs_a_reason():
    props = {"name": "db"}
    urn = urn_of(SECRET, "legacy")
    excepted = {"exceptions": [{"urn": urn, "reason": "imported legacy secret, re-keyed in KINGTAVO-123"}]}
    assert violations("secretsmanager-customer-managed-kms", SECRET, props, name="legacy", config=excepted) == []
    assert len(violations("secretsmanager-customer-managed-kms", SECRET, props, name="other", config=excepted)) == 1
    without_reason = {"exceptions": [{"urn": urn, "reason": ""}]}
    assert len(violations("secretsmanager-customer-managed-kms", SECRET, props, name="legacy",
                          config=without_reason)) == 1


def test_a_stack_rule_exception_silences_only_that_secret():
    legacy, other = secret_resource("legacy"), secret_resource("other")
    config = {"exceptions": [{"urn": legacy.urn, "reason": "retired next sprint, see KINGTAVO-124"}]}
    assert [urn for urn, _ in stack_violations("secretsmanager-rotation", [legacy, other], config)] == [other.urn]
