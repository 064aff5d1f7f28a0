"""Kubernetes Secrets synced from AWS Secrets Manager by the External Secrets Operator.

A workload's secrets reach its pods without passing through Pulumi's Kubernetes inputs: a
namespaced `SecretStore` authenticates to Secrets Manager as the workload's own service
account (IRSA), and an `ExternalSecret` copies named properties of Secrets Manager secrets
into one Kubernetes Secret. The pods read it with `secretKeyRef`. The service account's IAM
role must be allowed to read exactly those secrets (and nothing else).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.core.context import StackContext

ESO_CHART = "external-secrets"
# 2.x serves external-secrets.io/v1 (the API below) like 1.0; 2.0's one breaking change removed the Alibaba and
# Device42 providers, which this program does not use. The chart renders its CRDs as templates (installCRDs), so
# unlike charts with a crds/ folder Helm upgrades them with the release.
ESO_CHART_VERSION = "2.10.0"
ESO_REPOSITORY = "https://charts.external-secrets.io"
ESO_NAMESPACE = "external-secrets"
ESO_API_VERSION = "external-secrets.io/v1"


@dataclass(frozen=True)
class SecretKey:
    """One key of the Kubernetes Secret: from a Secrets Manager secret (ARN), optionally one JSON property."""

    secret_arn: pulumi.Input[str]
    property: str | None = None


@dataclass(frozen=True)
class SyncedSecretArgs:
    namespace: pulumi.Input[str]
    service_account: str
    region: str
    target_name: str
    keys: Mapping[str, SecretKey]  # Kubernetes Secret key -> where its value lives
    k8s_provider: k8s.Provider
    refresh_interval: str = "1h"
    depends_on: Sequence[pulumi.Resource] = ()


class SyncedSecret(pulumi.ComponentResource):
    """A SecretStore for one service account and an ExternalSecret that fills `target_name`."""

    def __init__(self, name: str, args: SyncedSecretArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kingtavo:secrets:SyncedSecret", name, None, opts)
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=args.k8s_provider, depends_on=list(args.depends_on))
        store_name = f"aws-secrets-manager-{args.service_account}"
        store = k8s.apiextensions.CustomResource(
            f"{name}-store",
            api_version=ESO_API_VERSION,
            kind="SecretStore",
            metadata={"name": store_name, "namespace": args.namespace},
            spec={"provider": {"aws": {
                "service": "SecretsManager",
                "region": args.region,
                "auth": {"jwt": {"serviceAccountRef": {"name": args.service_account}}},
            }}},
            opts=k8s_opts)
        data = []
        for key, source in sorted(args.keys.items()):
            remote: dict = {"key": source.secret_arn}
            if source.property:
                remote["property"] = source.property
            data.append({"secretKey": key, "remoteRef": remote})
        k8s.apiextensions.CustomResource(
            f"{name}-sync",
            api_version=ESO_API_VERSION,
            kind="ExternalSecret",
            metadata={"name": args.target_name, "namespace": args.namespace},
            spec={
                "refreshInterval": args.refresh_interval,
                "secretStoreRef": {"name": store_name, "kind": "SecretStore"},
                "target": {"name": args.target_name, "creationPolicy": "Owner", "deletionPolicy": "Retain"},
                "data": data,
            },
            opts=pulumi.ResourceOptions(parent=self, provider=args.k8s_provider, depends_on=[store]))
        self.secret_name = args.target_name
        self.keys = sorted(args.keys)
        self.register_outputs({"secretName": self.secret_name})

    def env(self, names: Mapping[str, str] | None = None) -> dict[str, tuple[str, str]]:
        """Env var -> (Secret name, key), for `BlueGreenArgs.secret_env` or a CronJob's env."""
        names = names or {key: key for key in self.keys}
        return {env_name: (self.secret_name, key) for env_name, key in names.items()}


@dataclass(frozen=True)
class ExternalSecretsOperatorArgs:
    ctx: StackContext
    k8s_provider: k8s.Provider


class ExternalSecretsOperator(pulumi.ComponentResource):
    """The External Secrets Operator (pinned Helm chart, its CRDs included). `release` is what CRs depend on."""

    def __init__(self, name: str, args: ExternalSecretsOperatorArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kingtavo:secrets:ExternalSecretsOperator", name, None, opts)
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=args.k8s_provider)
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={"name": ESO_NAMESPACE, "labels": {
                "app.kubernetes.io/part-of": "kingtavo",
                "pod-security.kubernetes.io/enforce": "baseline",
                "pod-security.kubernetes.io/warn": "restricted",
                "pod-security.kubernetes.io/audit": "restricted",
            }},
            opts=k8s_opts)
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            name=ESO_CHART,
            chart=ESO_CHART,
            version=ESO_CHART_VERSION,
            namespace=ESO_NAMESPACE,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=ESO_REPOSITORY),
            values={"installCRDs": True, "replicaCount": 2, "podDisruptionBudget": {"enabled": True}},
            atomic=True,
            cleanup_on_fail=True,
            opts=pulumi.ResourceOptions(parent=self, provider=args.k8s_provider, depends_on=[namespace]))
        self.register_outputs({"namespace": ESO_NAMESPACE})
