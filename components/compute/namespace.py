"""A workload's namespace under the `restricted` Pod Security Standard, its service account and IRSA role,
fenced by NetworkPolicies.

Built before the workload, because what the workload reads (its secrets) names the role and the
namespace first. The ETL service and the backup dump job each have one.

The fence: every pod in the namespace is denied all traffic except DNS to the cluster's resolver,
egress on the `Fence`'s TCP ports to addresses outside the VPC (the database or its pooler, AWS
APIs and Sentry over 443) and never to the instance metadata range, and ingress on named ports
from named namespaces (Prometheus' scrape). The VPC CNI enforces NetworkPolicies only with its
network policy agent on (`enableNetworkPolicy`, set on the vpc-cni add-on by the cluster).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components.compute.identity import ServiceAccountRole, ServiceAccountRoleArgs
from components.core.context import StackContext

METADATA_RANGE = "169.254.0.0/16"  # the instance metadata service and other link-local endpoints


@dataclass(frozen=True)
class Fence:
    """What the namespace's pods may reach, and who may reach them; everything else is denied."""

    vpc_cidr: str  # in-VPC addresses are not "outside": cluster traffic goes through pod selectors
    egress_tcp_ports: Sequence[int] = (443,)
    ingress: Mapping[str, Sequence[str | int]] = field(default_factory=dict)  # namespace -> ports


def network_policies(namespace: str, fence: Fence) -> dict[str, dict]:
    """The NetworkPolicy specs (name -> spec) that fence a namespace."""
    policies = {
        "default-deny": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        "allow-dns": {
            "podSelector": {}, "policyTypes": ["Egress"],
            "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}]},
        "allow-egress-outside": {
            "podSelector": {}, "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": [METADATA_RANGE, fence.vpc_cidr]}}],
                        "ports": [{"protocol": "TCP", "port": port} for port in fence.egress_tcp_ports]}]},
    }
    for source, ports in sorted(fence.ingress.items()):
        policies[f"allow-from-{source}"] = {
            "podSelector": {}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": source}}}],
                         "ports": [{"protocol": "TCP", "port": port} for port in ports]}]}
    return policies


@dataclass(frozen=True)
class ServiceNamespaceArgs:
    ctx: StackContext
    namespace: str
    service_account: str
    k8s_provider: k8s.Provider
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    fence: Fence | None = None


class ServiceNamespace(pulumi.ComponentResource):
    """A namespace under the `restricted` Pod Security Standard, a service account and its IRSA role, fenced."""

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
        for policy, spec in network_policies(args.namespace, args.fence).items() if args.fence else ():
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{policy}", metadata={"name": policy, "namespace": self.namespace.metadata.name},
                spec=spec, opts=k8s_opts)
        self.namespace_name = self.namespace.metadata.name
        self.service_account_name = args.service_account
        self.register_outputs({"namespace": self.namespace_name, "roleArn": self.role.arn})
