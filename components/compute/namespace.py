"""A workload's namespace under the `restricted` Pod Security Standard, its service account and IRSA role.

Built before the workload, because what the workload reads (its secrets) names the role and the
namespace first. The ETL service and the backup dump job each have one.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.compute.identity import ServiceAccountRole, ServiceAccountRoleArgs
from components.core.context import StackContext


@dataclass(frozen=True)
class ServiceNamespaceArgs:
    ctx: StackContext
    namespace: str
    service_account: str
    k8s_provider: k8s.Provider
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]


class ServiceNamespace(pulumi.ComponentResource):
    """A namespace under the `restricted` Pod Security Standard, a service account and its IRSA role."""

    def __init__(self, name: str, args: ServiceNamespaceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kingtavo:compute:ServiceNamespace", name, None, opts)
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=args.k8s_provider)
        self.namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={"name": args.namespace, "labels": {
                "app.kubernetes.io/part-of": "kingtavo",
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
            }},
            opts=k8s_opts)
        self.role = ServiceAccountRole(f"{name}-irsa", ServiceAccountRoleArgs(
            args.ctx, namespace=args.namespace, service_account=args.service_account,
            oidc_provider_arn=args.oidc_provider_arn, oidc_issuer=args.oidc_issuer),
            opts=pulumi.ResourceOptions(parent=self))
        self.service_account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account",
            metadata={"name": args.service_account, "namespace": self.namespace.metadata.name,
                      "annotations": {"eks.amazonaws.com/role-arn": self.role.arn}},
            automount_service_account_token=False,
            opts=k8s_opts)
        self.namespace_name = self.namespace.metadata.name
        self.service_account_name = args.service_account
        self.register_outputs({"namespace": self.namespace_name, "roleArn": self.role.arn})
