"""The secrets plane (components/secrets/etl_secrets.py), from offline runs of the whole program."""

from __future__ import annotations

import json
import re
from fnmatch import fnmatchcase

import pytest

from components.secrets.etl_secrets import DATABASE_KEYS, principal_arn_patterns, resource_slug
from components.secrets.external_secrets import ESO_CHART_VERSION
from tests.support.plans import STACKS, plan
from tools.harness import PlanResult, is_secret_wrapper, stack_config

KEY = "aws:kms/key:Key"
SECRET = "aws:secretsmanager/secret:Secret"
VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
POLICY = "aws:secretsmanager/secretPolicy:SecretPolicy"
ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"
FUNCTION = "aws:lambda/function:Function"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ROLE = "aws:iam/role:Role"
EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"
SECRET_STORE_CR = "kubernetes:external-secrets.io/v1:SecretStore"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
COMPONENT = "kingtavo:secrets:EtlSecrets"
ACCOUNT = "111122223333"


def _secrets_config(stack: str) -> dict:
    return stack_config(stack)["kingtavo:secrets"]


def _api_key_names(stack: str) -> list[str]:
    return stack_config(stack)["kingtavo:etl"]["apiKeyNames"]


def _store_children(result: PlanResult, type_token: str):
    component = result.one(COMPONENT, "secrets")
    return [r for r in result.by_type(type_token) if _within(result, r, component.urn)]


def _within(result: PlanResult, resource, ancestor_urn: str) -> bool:
    """The resource is a descendant of the component (its rotator and Lambda builder included)."""
    index = {r.urn: r for r in result.resources}
    parent = resource.parent
    while parent:
        if parent == ancestor_urn:
            return True
        parent = index[parent].parent if parent in index else None
    return False


def _arn(result: PlanResult, type_token: str, name: str) -> str:
    return result.one(type_token, name).outputs["arn"]


def _id(resource) -> str:
    """The id the mocks give a resource: an IAM role's is its name, the others' `<name>-id`."""
    return resource.outputs["name"] if resource.type == ROLE else f"{resource.name}-id"


def _etl_secrets(result: PlanResult):
    return _store_children(result, SECRET)


def _principals(statement: dict) -> list[str]:
    principal = statement.get("Principal")
    if isinstance(principal, str):
        return [principal]
    return [p for values in principal.values() for p in ([values] if isinstance(values, str) else values)]


def _denied_reading(policy: dict, principal_arn: str) -> bool:
    """Does the resource policy's deny apply to this principal's GetSecretValue? (StringNotLike semantics)"""
    for statement in policy["Statement"]:
        if statement["Effect"] != "Deny" or "secretsmanager:GetSecretValue" not in json.dumps(statement["Action"]):
            continue
        spared = statement["Condition"]["StringNotLike"]["aws:PrincipalArn"]
        if not any(fnmatchcase(principal_arn, pattern) for pattern in spared):
            return True
    return False


# --- the key ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_secrets_key_rotates_has_a_30_day_window_and_no_star_principal(stack):
    key = plan(stack).one(KEY, "secrets-key")
    assert key.inputs["enableKeyRotation"] is True
    assert key.inputs["deletionWindowInDays"] == 30 == _secrets_config(stack)["kmsDeletionWindowDays"]
    statements = json.loads(key.inputs["policy"])["Statement"]
    assert statements
    for statement in statements:
        assert "*" not in _principals(statement), statement
        assert all(":iam::" in p for p in _principals(statement)), statement


def test_secrets_key_deletion_window_is_a_setting():
    assert plan("staging", "secrets.kmsDeletionWindowDays=14").one(KEY, "secrets-key").inputs[
        "deletionWindowInDays"] == 14


# --- the secrets --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_one_secret_per_api_key_and_one_database_credential_all_under_the_environment(stack):
    names = sorted(s.inputs["name"] for s in _etl_secrets(plan(stack)))
    wanted = sorted([f"kingtavo/{stack}/etl/database", *(f"kingtavo/{stack}/etl/{n}" for n in _api_key_names(stack))])
    assert names == wanted


@pytest.mark.parametrize("stack", STACKS)
def test_each_secret_is_encrypted_with_the_secrets_key_and_has_the_recovery_window(stack):
    result = plan(stack)
    key_arn = _arn(result, KEY, "secrets-key")
    assert key_arn != _arn(result, KEY, "platform-key")
    for secret in _etl_secrets(result):
        assert secret.inputs["kmsKeyId"] == key_arn, secret.name
        assert secret.inputs["recoveryWindowInDays"] == _secrets_config(stack)["recoveryWindowDays"], secret.name


def test_recovery_window_is_a_setting():
    result = plan("staging", "secrets.recoveryWindowDays=21")
    assert {s.inputs["recoveryWindowInDays"] for s in _etl_secrets(result)} == {21}


@pytest.mark.parametrize("stack", STACKS)
def test_api_key_values_come_from_secret_config_and_stay_secret(stack):
    result = plan(stack)
    api_keys = result.secrets["kingtavo:etlApiKeys"]
    for name in _api_key_names(stack):
        version = result.one(VERSION, f"secrets-{resource_slug(name)}-value")
        stored = version.raw_inputs["secretString"]
        assert is_secret_wrapper(stored)
        assert stored["value"] == api_keys[name]


@pytest.mark.parametrize("stack", STACKS)
def test_database_credential_is_generated_secret_and_in_the_rotation_format(stack):
    result = plan(stack)
    password = result.one("random:index/randomPassword:RandomPassword", "secrets-database-password")
    assert password.inputs["length"] >= 32
    stored = result.one(VERSION, "secrets-database-value").raw_inputs["secretString"]
    assert is_secret_wrapper(stored)
    credential = json.loads(stored["value"])
    etl, database = stack_config(stack)["kingtavo:etl"], stack_config(stack)["kingtavo:supabase"]
    # through Supabase's pooler (the default): the region's pooler host, the role qualified by the project ref
    assert credential == {"engine": "postgres", "host": f"aws-0-{database['region']}.pooler.supabase.com",
                          "port": database["databasePort"], "dbname": database["databaseName"],
                          "username": f"{etl['databaseUser']}.{database['projectRef']}",
                          "password": password.outputs["result"]}


def test_a_direct_connection_uses_the_project_s_host_and_the_bare_role():
    result = plan("staging", "supabase.connection=direct")
    stored = result.one(VERSION, "secrets-database-value").raw_inputs["secretString"]
    credential = json.loads(stored["value"])
    ref = stack_config("staging")["kingtavo:supabase"]["projectRef"]
    assert (credential["host"], credential["username"]) == (f"db.{ref}.supabase.co", "etl")


@pytest.mark.parametrize("stack", STACKS)
def test_api_keys_say_who_rotates_them_and_the_database_credential_is_rotated(stack):
    result = plan(stack)
    tag_value = re.compile(r"^[\w .:/=+\-@]{1,256}$")
    for name in _api_key_names(stack):
        tags = result.one(SECRET, f"secrets-{resource_slug(name)}").inputs["tags"]
        assert tags["rotation"] == "manual"
        assert f"etlApiKeys.{name}" in tags["rotation-reason"]
        assert all(tag_value.match(value) for value in tags.values()), tags
    assert "rotation" not in result.one(SECRET, "secrets-database").inputs["tags"]


def test_production_protects_the_key_and_the_secrets_and_staging_does_not():
    for stack, protected in (("production", True), ("staging", False)):
        result = plan(stack)
        assert result.one(KEY, "secrets-key").protect is protected
        assert {s.protect for s in _etl_secrets(result)} == {protected}
    # only the stateful resources: versions, policies and the rotation are not protected
    production = plan("production")
    for type_token in (VERSION, POLICY, ROTATION, FUNCTION):
        assert not any(r.protect for r in _store_children(production, type_token)), type_token


# --- who may read ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_resource_policies_let_only_the_etl_role_read_and_deny_everyone_else(stack):
    result = plan(stack)
    irsa = _arn(result, ROLE, "etl-irsa-role")
    rotation_role = _arn(result, ROLE, "secrets-rotation-role")
    policies = {p.inputs["secretArn"]: p for p in _store_children(result, POLICY)}
    secrets_by_arn = {s.outputs["arn"]: s for s in _etl_secrets(result)}
    assert set(policies) == set(secrets_by_arn)
    for arn, resource in policies.items():
        assert resource.inputs["blockPublicPolicy"] is True
        policy = json.loads(resource.inputs["policy"])
        allows = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
        assert [_principals(s) for s in allows] == [[irsa]]
        assert not _denied_reading(policy, irsa)
        for other in (f"arn:aws:iam::{ACCOUNT}:role/etl-irsa-role-impostor", f"arn:aws:iam::{ACCOUNT}:role/admin",
                      f"arn:aws:iam::{ACCOUNT}:user/someone", f"arn:aws:iam::{ACCOUNT}:root",
                      _arn(result, ROLE, "cluster-node-role")):
            assert _denied_reading(policy, other), (arn, other)
        is_database = secrets_by_arn[arn].inputs["name"].endswith("/etl/database")
        assert _denied_reading(policy, rotation_role) is not is_database


@pytest.mark.parametrize("stack", STACKS)
def test_the_deployer_may_read_back_what_it_writes(stack):
    """The provider reads a version back after writing it: the deploying role is spared from the deny."""
    result = plan(stack)
    deployer = f"arn:aws:iam::{ACCOUNT}:role/offline-plan"  # the mocks' caller identity
    for resource in _store_children(result, POLICY):
        assert not _denied_reading(json.loads(resource.inputs["policy"]), deployer)


def test_a_deployer_session_maps_to_its_role_with_any_path():
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/ci-deploy/run-42"
    patterns = principal_arn_patterns(session, "aws")
    assert any(fnmatchcase(f"arn:aws:iam::{ACCOUNT}:role/ci-deploy", p) for p in patterns)
    assert any(fnmatchcase(f"arn:aws:iam::{ACCOUNT}:role/deploy/ci-deploy", p) for p in patterns)
    assert not any(fnmatchcase(f"arn:aws:iam::{ACCOUNT}:role/ci-deploy-other", p) for p in patterns)
    assert principal_arn_patterns(f"arn:aws:iam::{ACCOUNT}:user/alice", "aws") == [f"arn:aws:iam::{ACCOUNT}:user/alice"]


@pytest.mark.parametrize("stack", STACKS)
def test_the_etl_role_may_read_exactly_these_secrets_and_decrypt_with_their_key(stack):
    result = plan(stack)
    statements = json.loads(result.one(ROLE_POLICY, "etl-read-secrets").inputs["policy"])["Statement"]
    reads = [s for s in statements if "secretsmanager:GetSecretValue" in s["Action"]]
    assert [sorted(s["Resource"]) for s in reads] == [sorted(s.outputs["arn"] for s in _etl_secrets(result))]
    decrypts = [s for s in statements if s["Action"] == "kms:Decrypt"]
    assert [s["Resource"] for s in decrypts] == [_arn(result, KEY, "secrets-key")]


# --- rotation -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_database_credential_rotates_through_the_lambda_on_the_configured_interval(stack):
    result = plan(stack)
    rotation = result.one(ROTATION, "secrets-database-rotation")
    assert rotation.inputs["rotationRules"]["automaticallyAfterDays"] == _secrets_config(stack)["rotationDays"]
    assert rotation.inputs["secretId"] == result.one(SECRET, "secrets-database").inputs["name"]
    assert rotation.inputs["rotationLambdaArn"] == _arn(result, FUNCTION, "secrets-rotation-function")
    assert len(result.by_type(ROTATION)) >= 1


def test_production_rotates_every_30_days_and_the_interval_is_a_setting():
    assert plan("production").one(ROTATION, "secrets-database-rotation").inputs["rotationRules"][
        "automaticallyAfterDays"] == 30
    assert plan("staging", "secrets.rotationDays=7").one(ROTATION, "secrets-database-rotation").inputs[
        "rotationRules"]["automaticallyAfterDays"] == 7


@pytest.mark.parametrize("stack", STACKS)
def test_rotation_function_runs_the_packaged_handler_in_the_private_subnets(stack):
    result = plan(stack)
    function = result.one(FUNCTION, "secrets-rotation-function")
    assert function.inputs["runtime"] == "python3.12"
    assert function.inputs["handler"] == "handler.lambda_handler"
    assert function.inputs["role"] == _arn(result, ROLE, "secrets-rotation-role")
    private = {f"{s.name}-id" for s in result.by_type("aws:ec2/subnet:Subnet")
               if s.inputs["tags"].get("kubernetes.io/role/internal-elb") == "1"}
    assert set(function.inputs["vpcConfig"]["subnetIds"]) == private
    group = result.one("aws:ec2/securityGroup:SecurityGroup", "secrets-rotation-sg")
    assert function.inputs["vpcConfig"]["securityGroupIds"] == [_id(group)]
    assert group.inputs.get("ingress", []) == []
    assert sorted((e["protocol"], e["fromPort"], e["toPort"]) for e in group.inputs["egress"]) == [
        ("tcp", 443, 443), ("tcp", 5432, 5432), ("tcp", 6543, 6543)]


@pytest.mark.parametrize("stack", STACKS)
def test_rotation_function_logs_to_its_own_encrypted_log_group_with_retention(stack):
    result = plan(stack)
    function = result.one(FUNCTION, "secrets-rotation-function")
    group = result.one("aws:cloudwatch/logGroup:LogGroup", "secrets-rotation-logs")
    assert group.inputs["name"] == f"/aws/lambda/{function.inputs['name']}"
    assert function.inputs["loggingConfig"]["logGroup"] == group.inputs["name"]
    assert group.inputs["kmsKeyId"] == _arn(result, KEY, "platform-key")
    assert group.inputs["retentionInDays"] == stack_config(stack)["kingtavo:cluster"]["logRetentionDays"]


@pytest.mark.parametrize("stack", STACKS)
def test_only_secrets_manager_may_invoke_the_function_and_only_for_the_credentials_it_rotates(stack):
    result = plan(stack)
    permissions = [p for p in result.by_type("aws:lambda/permission:Permission")
                   if p.inputs["function"] == result.one(FUNCTION, "secrets-rotation-function").outputs["name"]]
    # the ETL's database credential, the backup job's and the ops recorder's (SecretStore.rotate), one each
    assert sorted(p.inputs["sourceArn"] for p in permissions) == sorted(
        [_arn(result, SECRET, "secrets-database"), _arn(result, SECRET, "backup-dump-db-credential"),
         _arn(result, SECRET, "ops-record-credential")])
    for permission in (p.inputs for p in permissions):
        assert permission["principal"] == "secretsmanager.amazonaws.com"
        assert permission["action"] == "lambda:InvokeFunction"
        assert permission["sourceAccount"] == ACCOUNT


@pytest.mark.parametrize("stack", STACKS)
def test_rotation_role_is_least_privilege(stack):
    result = plan(stack)
    role = result.one(ROLE, "secrets-rotation-role")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "lambda.amazonaws.com"}]
    policies = [p for p in result.by_type(ROLE_POLICY) if p.inputs["role"] == _id(role)]
    # its own policy, and one per further credential it rotates naming only that secret
    extra = {p.name: p for p in policies if p.name.endswith("-credential-rotation-access")}
    assert sorted(extra) == ["backup-dump-credential-rotation-access", "ops-record-credential-rotation-access"]
    for policy_name, secret_name in (("backup-dump-credential-rotation-access", "backup-dump-db-credential"),
                                     ("ops-record-credential-rotation-access", "ops-record-credential")):
        (extra_statement,) = json.loads(extra[policy_name].inputs["policy"])["Statement"]
        assert extra_statement["Resource"] == _arn(result, SECRET, secret_name)
    policies = [p for p in policies if p.name not in extra]
    assert len(policies) == 1
    assert not [a for a in result.by_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                if a.inputs["role"] == _id(role)]
    statements = json.loads(policies[0].inputs["policy"])["Statement"]
    database_arn = _arn(result, SECRET, "secrets-database")
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all(not a.endswith(":*") and a != "*" for a in actions), statement
        assert statement["Effect"] == "Allow"
        if statement["Sid"] == "ReadTheOpsRecorderCredential":  # to record each rotation: read, nothing else
            assert actions == ["secretsmanager:GetSecretValue"]
            assert statement["Resource"].endswith(f":secret:kingtavo/{stack}/ops-recorder-??????"), statement
        elif any(a.startswith("secretsmanager:") for a in actions) and actions != ["secretsmanager:GetRandomPassword"]:
            assert statement["Resource"] == database_arn, statement
        if any(a.startswith("kms:") for a in actions):
            assert statement["Resource"] == _arn(result, KEY, "secrets-key")
            assert sorted(actions) == ["kms:Decrypt", "kms:GenerateDataKey"]
        if any(a.startswith("logs:") for a in actions):
            group = _arn(result, "aws:cloudwatch/logGroup:LogGroup", "secrets-rotation-logs")
            assert statement["Resource"] == f"{group}:*"
    granted = {a for s in statements for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    assert {"secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage",
            "secretsmanager:GetRandomPassword", "ec2:CreateNetworkInterface"} <= granted
    # no other secret's ARN anywhere in the policy
    others = [s.outputs["arn"] for s in _etl_secrets(result) if s.outputs["arn"] != database_arn]
    assert not [arn for arn in others if arn in policies[0].inputs["policy"]]


# --- the ETL pods get their secrets through External Secrets --------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_external_secret_fills_etl_secrets_from_the_secret_arns(stack):
    result = plan(stack)
    external = result.one(EXTERNAL_SECRET, "secrets-etl-sync-sync").inputs
    assert external["metadata"] == {"name": "etl-secrets", "namespace": "etl"}
    assert external["spec"]["target"]["name"] == "etl-secrets"
    by_key = {d["secretKey"]: d["remoteRef"] for d in external["spec"]["data"]}
    assert sorted(by_key) == sorted([*DATABASE_KEYS, *_api_key_names(stack)])
    database_arn = _arn(result, SECRET, "secrets-database")
    for key, prop in DATABASE_KEYS.items():
        assert by_key[key] == {"key": database_arn, "property": prop}
    for name in _api_key_names(stack):
        assert by_key[name] == {"key": _arn(result, SECRET, f"secrets-{resource_slug(name)}")}
    store = result.one(SECRET_STORE_CR, "secrets-etl-sync-store").inputs
    assert external["spec"]["secretStoreRef"] == {"name": store["metadata"]["name"], "kind": "SecretStore"}
    assert store["metadata"]["namespace"] == "etl"
    assert store["spec"]["provider"]["aws"]["service"] == "SecretsManager"
    assert store["spec"]["provider"]["aws"]["auth"] == {"jwt": {"serviceAccountRef": {"name": "etl"}}}


@pytest.mark.parametrize("stack", STACKS)
def test_both_colors_read_every_secret_with_secret_key_ref_and_no_literal(stack):
    result = plan(stack)
    wanted = sorted([*DATABASE_KEYS, *_api_key_names(stack)])
    for color in ("blue", "green"):
        container = result.one(DEPLOYMENT, f"etl-{color}").inputs["spec"]["template"]["spec"]["containers"][0]
        refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"] if "secretKeyRef" in e.get(
            "valueFrom", {})}
        assert sorted(refs) == wanted
        assert all(ref == {"name": "etl-secrets", "key": name} for name, ref in refs.items())
        assert not [e for e in container["env"] if e["name"] in wanted and "value" in e]


@pytest.mark.parametrize("stack", STACKS)
def test_external_secrets_operator_is_a_pinned_release_the_custom_resources_wait_for(stack):
    result = plan(stack)
    release = result.one("kubernetes:helm.sh/v3:Release", "external-secrets-release")
    assert release.inputs["chart"] == "external-secrets"
    assert release.inputs["version"] == ESO_CHART_VERSION
    assert release.inputs["namespace"] == "external-secrets"
    assert release.inputs["values"]["installCRDs"] is True
    assert result.one("kubernetes:core/v1:Namespace", "external-secrets-namespace").inputs["metadata"][
        "name"] == "external-secrets"


# --- Supabase Edge Function secrets ---------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_edge_function_secrets_come_from_secret_config_and_stay_secret(stack):
    result = plan(stack)
    resource = result.one("pulumi-python:dynamic/supabase:EdgeFunctionSecrets", "supabase-edge-function-secrets")
    supabase = stack_config(stack)["kingtavo:supabase"]
    assert resource.inputs["project_ref"] == supabase["projectRef"]
    assert resource.inputs["api_url"] == supabase.get("apiUrl", "https://api.supabase.com")
    for prop in ("secrets", "access_token"):
        assert is_secret_wrapper(resource.raw_inputs[prop]), prop
    assert resource.raw_inputs["secrets"]["value"] == result.secrets["kingtavo:edgeFunctionSecrets"]
    assert sorted(resource.inputs["secrets"]) == sorted(supabase["edgeFunctionSecretNames"])
    assert resource.raw_inputs["access_token"]["value"] == result.secrets["kingtavo:supabaseAccessToken"]


@pytest.mark.parametrize("stack", STACKS)
def test_every_secret_has_a_resource_policy_denying_all_but_its_readers(stack):
    """Not only the ETL's: the dump credential, the monitor's token and the webhook secret too (issue 19)."""
    result = plan(stack)
    secrets_ = {s.outputs["arn"]: s.name for s in result.by_type("aws:secretsmanager/secret:Secret")}
    policies = {p.inputs["secretArn"]: json.loads(p.inputs["policy"])
                for p in result.by_type("aws:secretsmanager/secretPolicy:SecretPolicy")}
    assert set(secrets_) <= set(policies), [secrets_[arn] for arn in set(secrets_) - set(policies)]
    for arn, policy in policies.items():
        deny = next(s for s in policy["Statement"] if s["Effect"] == "Deny")
        assert (deny["Principal"], deny["Action"]) == ("*", "secretsmanager:GetSecretValue"), secrets_.get(arn)
