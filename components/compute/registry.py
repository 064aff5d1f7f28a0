"""The ETL image registry: one ECR repository that CI pushes releases to and the cluster's nodes pull from.

- Tags are immutable: a release tag names one image forever, so what `etl.<color>.image` says
  is what runs, and a rollback to the idle color pulls exactly the image that ran before.
- Every push is scanned, and images are encrypted with the platform KMS key.
- The lifecycle policy expires untagged layers (failed or superseded pushes) after
  `registry.untaggedExpiryDays` and keeps the newest `registry.keepReleaseImages` tagged images.
  ECR cannot exempt the two colors' images by tag without the policy depending on the releases
  (and a release change must touch only its color's Deployment), so the guarantee is the count:
  an image a color runs is expired only after `keepReleaseImages` newer releases were pushed
  while it was still deployed. The default (30) is far more than the two colors ever span; lower
  it only with that in mind.
- The repository policy lets exactly CI's push role push and the cluster's node role pull. The
  CI role itself lives outside this program (it must exist before the policy is applied, and it
  needs `ecr:GetAuthorizationToken` in its own IAM policy, which is not a repository action).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.core.context import StackContext
from components.core.settings import RegistrySettings

PUSH_ACTIONS = [
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:CompleteLayerUpload",
    "ecr:GetDownloadUrlForLayer",
    "ecr:InitiateLayerUpload",
    "ecr:PutImage",
    "ecr:UploadLayerPart",
]
PULL_ACTIONS = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]


def lifecycle_policy(settings: RegistrySettings) -> str:
    """Expire untagged images after N days first; then keep the newest tagged images (every release tag)."""
    return json.dumps({"rules": [
        {
            "rulePriority": 1,
            "description": f"Expire untagged images {settings.untagged_expiry_days} days after push",
            "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days",
                          "countNumber": settings.untagged_expiry_days},
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 2,
            "description": (f"Keep the newest {settings.keep_release_images} release images: both colors' "
                            f"releases and their rollbacks"),
            "selection": {"tagStatus": "tagged", "tagPatternList": ["*"], "countType": "imageCountMoreThan",
                          "countNumber": settings.keep_release_images},
            "action": {"type": "expire"},
        },
    ]}, indent=2)


def repository_policy(ci_push_role_arn: str, node_role_arn: str) -> str:
    """CI's role pushes (and reads back what it pushed); the cluster's nodes only pull."""
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "CiPushesReleases", "Effect": "Allow", "Principal": {"AWS": ci_push_role_arn},
             "Action": PUSH_ACTIONS},
            {"Sid": "ClusterNodesPull", "Effect": "Allow", "Principal": {"AWS": node_role_arn},
             "Action": PULL_ACTIONS},
        ],
    }, indent=2)


@dataclass(frozen=True)
class ImageRegistryArgs:
    ctx: StackContext
    settings: RegistrySettings
    node_role_arn: pulumi.Input[str]


class ImageRegistry(pulumi.ComponentResource):
    """The ETL's ECR repository, its lifecycle and access policies. Outputs: repository_url, repository_arn."""

    def __init__(self, name: str, args: ImageRegistryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kingtavo:compute:ImageRegistry", name, None, opts)
        settings, ctx = args.settings, args.ctx.aws
        child = pulumi.ResourceOptions(parent=self)
        self.repository = aws.ecr.Repository(
            f"{name}-etl",
            name=settings.repository_name,
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
            encryption_configurations=[aws.ecr.RepositoryEncryptionConfigurationArgs(
                encryption_type="KMS", kms_key=args.ctx.key_arn)],
            force_delete=False,
            tags=args.ctx.tags("compute"),
            # Only the repository (its images) is protected; its policies can be recreated.
            opts=pulumi.ResourceOptions(parent=self, protect=args.ctx.protect))
        aws.ecr.LifecyclePolicy(f"{name}-etl-lifecycle", repository=self.repository.name,
                                policy=lifecycle_policy(settings), opts=child)
        ci_push_role_arn = f"arn:{ctx.partition}:iam::{ctx.account_id}:role/{settings.ci_push_role_name}"
        aws.ecr.RepositoryPolicy(
            f"{name}-etl-access", repository=self.repository.name,
            policy=pulumi.Output.from_input(args.node_role_arn).apply(
                lambda node_role_arn: repository_policy(ci_push_role_arn, node_role_arn)),
            opts=child)
        self.repository_url = self.repository.repository_url
        self.repository_arn = self.repository.arn
        self.register_outputs({"repositoryUrl": self.repository_url, "repositoryArn": self.repository_arn})
