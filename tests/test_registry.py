"""The ETL image registry (ECR): its planned settings, and the planned policies applied to moto's ECR."""

from __future__ import annotations

import json
import secrets

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from components.compute.registry import lifecycle_policy
from components.core.settings import RegistrySettings
from tests.support.plans import STACKS, plan
from tools.harness import FAKE_ACCOUNT_ID, PlanResult, stack_config
from tools.plan import compare
from tools.policy_gate import evaluate, load_pack_config

REPOSITORY = "aws:ecr/repository:Repository"
LIFECYCLE = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
REPOSITORY_POLICY = "aws:ecr/repositoryPolicy:RepositoryPolicy"
REGION = "eu-central-1"


def _registry_settings(stack: str) -> dict:
    return stack_config(stack)["kingtavo:registry"]


def _platform_key_arn(result: PlanResult) -> str:
    return result.one("aws:kms/key:Key", "platform-key").outputs["arn"]


@pytest.mark.parametrize("stack", STACKS)
def test_repository_is_immutable_scanned_and_encrypted_with_the_platform_key(stack):
    result = plan(stack)
    repository = result.one(REPOSITORY).inputs
    assert repository["name"] == _registry_settings(stack)["repositoryName"]
    assert repository["imageTagMutability"] == "IMMUTABLE"
    assert repository["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repository["encryptionConfigurations"] == [{"encryptionType": "KMS",
                                                       "kmsKey": _platform_key_arn(result)}]
    assert repository["forceDelete"] is False


def test_production_repository_is_protected_and_its_policies_are_not():
    production, staging = plan("production"), plan("staging")
    assert production.one(REPOSITORY).protect and not staging.one(REPOSITORY).protect
    assert not production.one(LIFECYCLE).protect and not production.one(REPOSITORY_POLICY).protect


@pytest.mark.parametrize("stack", STACKS)
def test_the_repository_url_is_exported_and_names_the_images_the_colors_run(stack):
    result = plan(stack)
    url = result.outputs["etlRepositoryUrl"]
    assert url == f"{FAKE_ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/{_registry_settings(stack)['repositoryName']}"
    assert result.outputs["etlLiveRelease"].startswith(url + ":")
    assert result.outputs["etlIdleRelease"].startswith(url + ":")


@pytest.mark.parametrize("stack", STACKS)
def test_lifecycle_keeps_the_newest_release_images_and_expires_untagged_ones(stack):
    result = plan(stack)
    lifecycle = result.one(LIFECYCLE)
    assert lifecycle.inputs["repository"] == result.one(REPOSITORY).inputs["name"]
    rules = sorted(json.loads(lifecycle.inputs["policy"])["rules"], key=lambda rule: rule["rulePriority"])
    settings = _registry_settings(stack)
    assert [rule["selection"] for rule in rules] == [
        {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days",
         "countNumber": settings.get("untaggedExpiryDays", 7)},
        {"tagStatus": "tagged", "tagPatternList": ["*"], "countType": "imageCountMoreThan",
         "countNumber": settings["keepReleaseImages"]},
    ]
    assert all(rule["action"] == {"type": "expire"} for rule in rules)


def test_lifecycle_counts_follow_the_settings():
    rules = json.loads(plan("staging", "registry.keepReleaseImages=12", "registry.untaggedExpiryDays=3")
                       .one(LIFECYCLE).inputs["policy"])["rules"]
    assert [rule["selection"]["countNumber"] for rule in rules] == [3, 12]


def test_a_keep_count_below_two_is_refused_so_both_colors_always_fit():
    with pytest.raises(ValueError, match="greater than or equal to 2"):
        RegistrySettings(keep_release_images=1)


@pytest.mark.parametrize("stack", STACKS)
def test_ci_role_pushes_and_the_cluster_nodes_only_pull(stack):
    result = plan(stack)
    policy = json.loads(result.one(REPOSITORY_POLICY).inputs["policy"])
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert set(statements) == {"CiPushesReleases", "ClusterNodesPull"}
    assert all(s["Effect"] == "Allow" for s in statements.values())
    ci_role = f"arn:aws:iam::{FAKE_ACCOUNT_ID}:role/{_registry_settings(stack)['ciPushRoleName']}"
    assert statements["CiPushesReleases"]["Principal"] == {"AWS": ci_role}
    assert "ecr:PutImage" in statements["CiPushesReleases"]["Action"]
    node_role = result.one("aws:iam/role:Role", "cluster-node-role").outputs["arn"]
    assert statements["ClusterNodesPull"]["Principal"] == {"AWS": node_role}
    assert sorted(statements["ClusterNodesPull"]["Action"]) == [
        "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    assert "*" not in json.dumps([s["Principal"] for s in statements.values()])


# --- the planned settings applied to moto's ECR ------------------------------------------------------------------


def _manifest() -> str:
    """A distinct image manifest per call (its config digest is random), like two different builds."""
    digest = "sha256:" + secrets.token_hex(32)
    return json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                       "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1,
                                  "digest": digest}, "layers": []})


@pytest.fixture
def ecr():
    with mock_aws():
        yield boto3.client("ecr", region_name=REGION)


@pytest.mark.parametrize("stack", STACKS)
def test_planned_repository_and_policies_are_accepted_by_ecr_and_tags_cannot_be_overwritten(ecr, stack):
    result = plan(stack)
    repository = result.one(REPOSITORY).inputs
    name = repository["name"]
    ecr.create_repository(
        repositoryName=name, imageTagMutability=repository["imageTagMutability"],
        imageScanningConfiguration=repository["imageScanningConfiguration"],
        encryptionConfiguration=repository["encryptionConfigurations"][0])
    ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=result.one(LIFECYCLE).inputs["policy"])
    ecr.set_repository_policy(repositoryName=name, policyText=result.one(REPOSITORY_POLICY).inputs["policy"])

    described = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
    assert described["imageTagMutability"] == "IMMUTABLE"
    assert described["imageScanningConfiguration"] == {"scanOnPush": True}
    assert described["encryptionConfiguration"]["kmsKey"] == _platform_key_arn(result)

    release = result.outputs["etlLiveRelease"].rsplit(":", 1)[1]
    ecr.put_image(repositoryName=name, imageManifest=_manifest(), imageTag=release)
    with pytest.raises(ClientError) as refused:
        ecr.put_image(repositoryName=name, imageManifest=_manifest(), imageTag=release)
    # AWS answers ImageTagAlreadyExistsException; moto 5.2.5 names it ImageAlreadyExistsException
    assert refused.value.response["Error"]["Code"] in ("ImageTagAlreadyExistsException", "ImageAlreadyExistsException")
    assert release in refused.value.response["Error"]["Message"]
    # the control: without immutable tags the same second push would silently move the tag
    ecr.create_repository(repositoryName="mutable-control", imageTagMutability="MUTABLE")
    for _ in range(2):
        ecr.put_image(repositoryName="mutable-control", imageManifest=_manifest(), imageTag=release)


def test_ecr_refuses_a_broken_lifecycle_policy_so_the_acceptance_above_means_something(ecr):
    ecr.create_repository(repositoryName="kingtavo/etl")
    broken = json.loads(lifecycle_policy(RegistrySettings()))
    broken["rules"][1]["selection"]["countType"] = "imageCountAtLeast"
    with pytest.raises(ClientError) as refused:
        ecr.put_lifecycle_policy(repositoryName="kingtavo/etl", lifecyclePolicyText=json.dumps(broken))
    assert refused.value.response["Error"]["Code"] == "InvalidParameterException"


# --- blue/green and the policy pack ------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_neither_a_flip_nor_a_new_idle_release_touches_the_registry(stack):
    active = stack_config(stack)["kingtavo:activeColor"]
    idle = "green" if active == "blue" else "blue"
    url = plan(stack).outputs["etlRepositoryUrl"]
    for overrides in ((f"activeColor={idle}",), (f"etl.{idle}.image={url}:9.9.9",)):
        changes = compare(plan(stack), plan(stack, *overrides))
        assert changes
        assert [c for c in changes if c.type.startswith("aws:ecr/")] == []


@pytest.mark.parametrize("stack", STACKS)
def test_the_policy_pack_passes_the_registry(stack):
    result = plan(stack)
    ours = {r.urn for r in result.resources if r.type.startswith("aws:ecr/")}
    assert len(ours) == 3
    assert [v for v in evaluate(result.resources, load_pack_config()) if v.urn in ours] == []
