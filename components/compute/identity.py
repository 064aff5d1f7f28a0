"""Trust policies, and IAM roles for Kubernetes service accounts (IRSA).

A role is created before the things it may touch (so a secret's resource policy can name
it), and its permissions are attached afterwards with `grant()`, naming exactly those
resources. Only the one service account in the one namespace can assume it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.core.context import StackContext


def service_trust_policy(service: str, source_account: str | None = None) -> str:
    """A role only this AWS service can assume, optionally only on behalf of this account."""
    statement: dict = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if source_account is not None:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": source_account}}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def irsa_trust_policy(oidc_provider_arn: str, issuer: str, namespace: str, service_account: str) -> str:
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": oidc_provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                f"{issuer}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                f"{issuer}:aud": "sts.amazonaws.com",
            }},
        }],
    })


@dataclass(frozen=True)
class ServiceAccountRoleArgs:
    ctx: StackContext
    namespace: str
    service_account: str
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]


class ServiceAccountRole(pulumi.ComponentResource):
    """An IAM role only `system:serviceaccount:<namespace>:<service_account>` can assume. Outputs: arn, name."""

    def __init__(self, name: str, args: ServiceAccountRoleArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kingtavo:identity:ServiceAccountRole", name, None, opts)
        self.args = args
        self.role = aws.iam.Role(
            f"{name}-role",
            description=f"IRSA role of {args.namespace}/{args.service_account}",
            assume_role_policy=pulumi.Output.all(args.oidc_provider_arn, args.oidc_issuer).apply(
                lambda v: irsa_trust_policy(v[0], v[1], args.namespace, args.service_account)),
            tags=args.ctx.tags(**{"kingtavo:service-account": f"{args.namespace}.{args.service_account}"}),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.arn = self.role.arn
        self.name = self.role.name
        self.register_outputs({"arn": self.arn})

    def grant(self, name: str, statements: pulumi.Input[list[dict]]) -> aws.iam.RolePolicy:
        """Attach an inline policy with exactly these statements."""
        return aws.iam.RolePolicy(
            name, role=self.role.id,
            policy=pulumi.Output.from_input(statements).apply(
                lambda s: json.dumps({"Version": "2012-10-17", "Statement": s})),
            opts=pulumi.ResourceOptions(parent=self))
