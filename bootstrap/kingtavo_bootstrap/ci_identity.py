"""The CI identities of one environment: the GitHub OIDC provider (where this stack owns it) and the roles.

Roles are named `kingtavo-ci-<environment>-<purpose>` so that two bootstrap stacks in one account
never collide, and the deploy role can be fenced off from every `kingtavo-ci-*` role.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from kingtavo_bootstrap import policies
from kingtavo_bootstrap.ci_environments import environments_of
from kingtavo_bootstrap.settings import ENVIRONMENTS, BootstrapSettings

# GitHub's OIDC endpoint: IAM no longer checks the thumbprint for it, but the API still wants one.
GITHUB_THUMBPRINTS = ["6938fd4d98bab03faadb97b34396831e3780aea1", "1c58a3a8518e8759bf075b76b750d4f2df264fcd"]


def github_provider_arn(account_id: str) -> str:
    """The provider's ARN is fixed by account and URL, so a stack that does not own it can still name it."""
    return f"arn:aws:iam::{account_id}:oidc-provider/{policies.GITHUB_OIDC_HOST}"


@dataclass(frozen=True)
class CiIdentityArgs:
    settings: BootstrapSettings


class CiIdentity(pulumi.ComponentResource):
    """Outputs: provider_arn, preview_role, deploy_role, restore_drill_role (or None)."""

    def __init__(self, name: str, args: CiIdentityArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kingtavo-bootstrap:ci:CiIdentity", name, None, opts)
        s = args.settings
        env, repository = s.environment, s.github.repository
        tags = {"kingtavo:environment": env, "kingtavo:plane": "ci"}
        protect = pulumi.ResourceOptions(parent=self, protect=s.is_production)
        self.provider_arn: pulumi.Input[str] = github_provider_arn(s.account_id)
        if s.create_oidc_provider:
            provider = aws.iam.OpenIdConnectProvider(
                f"{name}-github-oidc", url=f"https://{policies.GITHUB_OIDC_HOST}",
                client_id_lists=[policies.GITHUB_OIDC_AUDIENCE], thumbprint_lists=GITHUB_THUMBPRINTS,
                tags={"kingtavo:plane": "ci"}, opts=protect)
            self.provider_arn = provider.arn

        # Each role trusts exactly the environments that hold it (ci_environments.py, the workflows' contract).
        def subjects(purpose: str) -> list[str]:
            return [policies.github_subject(repository, environment=environment)
                    for environment in environments_of(env, purpose)]

        self.preview_role = self._role(
            name, "preview", f"Read-only pulumi preview and drift check of the {env} stack", subjects("preview"),
            policies.preview_policy(s.access.secrets_provider_key_arn), tags, protect)

        other = [e for e in ENVIRONMENTS if e != env]
        # The registry's ARN is fixed by account, region and name: the deploy role may read it, never write it.
        registry_arn = f"arn:aws:ecr:{s.region}:{s.account_id}:repository/{s.registry.repository_name}"
        deploy = pulumi.Output.from_input(self.provider_arn).apply(
            lambda provider_arn: policies.deploy_policy(
                other_environments=other, account_id=s.account_id, region=s.region, oidc_provider_arn=provider_arn,
                registry_arn=registry_arn, secrets_provider_key_arn=s.access.secrets_provider_key_arn))
        self.deploy_role = self._role(
            name, "deploy", f"pulumi up of the {env} stack from its GitHub environment",
            subjects("deploy"), deploy, tags, protect)

        self.restore_drill_role = None
        if environments_of(env, "restore-drill"):
            self.restore_drill_role = self._role(
                name, "restore-drill", f"The monthly restore drill on {env}'s backups", subjects("restore-drill"),
                policies.restore_drill_policy(environment=env, account_id=s.account_id, region=s.region),
                tags, protect)
        self.register_outputs({"providerArn": self.provider_arn, "previewRoleArn": self.preview_role.arn,
                               "deployRoleArn": self.deploy_role.arn})

    def _role(self, name: str, purpose: str, description: str, subjects: list[str], policy, tags: dict,
              protect: pulumi.ResourceOptions) -> aws.iam.Role:
        env = tags["kingtavo:environment"]
        role = aws.iam.Role(
            f"{name}-{purpose}", name=f"{policies.CI_ROLE_PREFIX}{env}-{purpose}", description=description,
            assume_role_policy=pulumi.Output.from_input(self.provider_arn).apply(
                lambda arn: json.dumps(policies.github_trust_policy(arn, subjects))),
            max_session_duration=3600, tags={**tags, "kingtavo:ci-role": purpose}, opts=protect)
        aws.iam.RolePolicy(f"{name}-{purpose}-permissions", role=role.id,
                           policy=pulumi.Output.from_input(policy).apply(json.dumps),
                           opts=pulumi.ResourceOptions(parent=role))
        return role


def trust_subjects(document: dict) -> list[str]:
    """The subjects a trust policy admits (for tests and the README)."""
    (statement,) = document["Statement"]
    condition = statement["Condition"]
    return condition.get("StringEquals", {}).get(f"{policies.GITHUB_OIDC_HOST}:sub") or \
        condition["StringLike"][f"{policies.GITHUB_OIDC_HOST}:sub"]
