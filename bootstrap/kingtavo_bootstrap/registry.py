"""The shared ETL image registry: one ECR repository both environments pull from, and its push role.

One registry for both stacks (rather than one repository per account): a release is built and
scanned once, and the digest staging ran is byte for byte the digest production runs. Tags are
immutable; every push is scanned; images are encrypted with ECR's AWS-managed KMS key (no key policy of
ours to extend when another account pulls). The repository policy names accounts, not the
clusters' node roles, because those roles do not exist yet when the registry is created (AWS
rejects a policy naming a missing principal); a condition narrows each account to its node roles.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_github as github

from kingtavo_bootstrap import policies
from kingtavo_bootstrap.settings import BootstrapSettings


@dataclass(frozen=True)
class EtlRegistryArgs:
    settings: BootstrapSettings
    provider_arn: pulumi.Input[str]


class EtlRegistry(pulumi.ComponentResource):
    """Outputs: repository (url, name, arn, registry id) and push_role."""

    def __init__(self, name: str, args: EtlRegistryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kingtavo-bootstrap:registry:EtlRegistry", name, None, opts)
        s, registry = args.settings, args.settings.registry
        tags = {"kingtavo:plane": "registry", "kingtavo:shared": "true"}
        protect = pulumi.ResourceOptions(parent=self, protect=True)
        self.repository = aws.ecr.Repository(
            f"{name}-etl", name=registry.repository_name, image_tag_mutability="IMMUTABLE",
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
            encryption_configurations=[aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="KMS")],
            force_delete=False, tags=tags, opts=protect)
        aws.ecr.LifecyclePolicy(
            f"{name}-etl-lifecycle", repository=self.repository.name,
            policy=json.dumps(policies.lifecycle_policy(registry.untagged_expiry_days, registry.keep_release_images)),
            opts=pulumi.ResourceOptions(parent=self))

        subjects = policies.etl_push_subjects(s.github.etl_repository, s.github.etl_push_refs, s.github.repository,
                                              s.github.etl_push_workflow)
        if s.github.etl_push_workflow:
            # The ETL repository's OIDC subjects name the reusable workflow a job runs, so the push role can
            # require ours (the repository's token then no longer has the default subject format).
            github.ActionsRepositoryOidcSubjectClaimCustomizationTemplate(
                f"{name}-etl-oidc-subject", repository=s.github.etl_repository.split("/")[1], use_default=False,
                include_claim_keys=["repo", "context", "job_workflow_ref"], opts=pulumi.ResourceOptions(parent=self))
        self.push_role = aws.iam.Role(
            f"{name}-etl-image-push", name=registry.push_role_name,
            description=f"Pushes ETL images from {s.github.etl_repository} (main and release tags)",
            assume_role_policy=pulumi.Output.from_input(args.provider_arn).apply(
                lambda arn: json.dumps(policies.github_trust_policy(arn, subjects))),
            max_session_duration=3600, tags={**tags, "kingtavo:ci-role": "etl-image-push"}, opts=protect)
        aws.iam.RolePolicy(f"{name}-etl-image-push-permissions", role=self.push_role.id,
                           policy=self.repository.arn.apply(lambda arn: json.dumps(policies.image_push_policy(arn))),
                           opts=pulumi.ResourceOptions(parent=self.push_role))
        aws.ecr.RepositoryPolicy(
            f"{name}-etl-access", repository=self.repository.name,
            policy=self.push_role.arn.apply(lambda arn: json.dumps(policies.repository_policy(
                arn, registry.pull_accounts, registry.node_role_name_patterns))),
            opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({"repositoryUrl": self.repository.repository_url,
                               "pushRoleArn": self.push_role.arn})
