"""The EKS cluster, like terraform-aws-modules/eks: one concern, few inputs, the outputs the workloads need.

- The control plane sits in the private subnets; its API endpoint is private, and public
  access (for operators and CI) is limited to the configured CIDRs, or off when none are set.
- Kubernetes secrets are envelope-encrypted with a KMS key of our own (rotation on).
- Control-plane logs (api, audit, authenticator) go to a log group we create first, so it
  has a retention period and is encrypted, instead of the unbounded one EKS would create.
- A managed node group sized from settings; nodes may pull images from ECR. Their launch
  template requires IMDSv2 with a hop limit of 1, so pods cannot reach the node's credentials.
- The cluster's OIDC provider makes IAM roles for service accounts (IRSA) possible.
- Access is by EKS access entries only (`authentication_mode = API`, no implicit creator
  admin): the deploy role is cluster admin, the read-only preview role may view, and each
  operator in `cluster.operators` gets the access policy named there. Run `pulumi up` as the
  deploy role (the deploy workflows do), or as an operator listed with `cluster-admin`.
- The managed add-ons (vpc-cni with its own IRSA role holding the CNI policy, coredns,
  kube-proxy, eks-pod-identity-agent) are pinned to `cluster.addonVersions`.
- `provider` is a `pulumi_kubernetes.Provider` built from the cluster's outputs; its
  kubeconfig is a secret output (it names the endpoint and CA and runs `aws eks get-token`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.compute.identity import ServiceAccountRole, ServiceAccountRoleArgs, service_trust_policy
from components.core.context import AwsContext, StackContext
from components.core.kms import account_admin_statement, customer_managed_key, service_use_statement
from components.core.settings import ClusterSettings

CONTROL_PLANE_LOGS = ["api", "audit", "authenticator"]
# EKS access policies by the name settings use.
ACCESS_POLICIES = {"view": "AmazonEKSViewPolicy", "edit": "AmazonEKSEditPolicy", "admin": "AmazonEKSAdminPolicy",
                   "cluster-admin": "AmazonEKSClusterAdminPolicy"}
# add-on name in settings -> EKS add-on name
ADDONS = {"vpc_cni": "vpc-cni", "coredns": "coredns", "kube_proxy": "kube-proxy",
          "pod_identity_agent": "eks-pod-identity-agent"}


def access_policy_arn(partition: str, access: str) -> str:
    return f"arn:{partition}:eks::aws:cluster-access-policy/{ACCESS_POLICIES[access]}"


def managed_policy(aws_ctx: AwsContext, name: str) -> str:
    return f"arn:{aws_ctx.partition}:iam::aws:policy/{name}"


def kubeconfig(cluster_name: str, endpoint: str, ca_data: str, region: str) -> str:
    """A kubeconfig that authenticates with `aws eks get-token` (no static credentials in it)."""
    return json.dumps({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
        "current-context": cluster_name,
        "users": [{"name": cluster_name, "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "aws",
            "args": ["eks", "get-token", "--cluster-name", cluster_name, "--region", region, "--output", "json"],
        }}}],
    })


@dataclass(frozen=True)
class ClusterArgs:
    ctx: StackContext
    settings: ClusterSettings
    private_subnet_ids: list[pulumi.Input[str]]
    kms_deletion_window_days: int = 30
    # from the bootstrap project: who deploys (cluster admin) and who previews (view)
    deploy_role_arn: pulumi.Input[str] | None = None
    preview_role_arn: pulumi.Input[str] | None = None


class Cluster(pulumi.ComponentResource):
    """Outputs: name, endpoint, oidc_provider_arn, oidc_issuer, node_role_arn, kubeconfig (secret), provider."""

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kingtavo:compute:Cluster", name, None, opts)
        settings, ctx = args.settings, args.ctx.aws
        child = pulumi.ResourceOptions(parent=self)
        tags = args.ctx.tags("compute")

        secrets_policy = {
            "Version": "2012-10-17",
            "Statement": [account_admin_statement(ctx),
                          service_use_statement("EksEnvelopeEncryption", ["eks.amazonaws.com"], ctx)],
        }
        self.secrets_key, _ = customer_managed_key(
            f"{name}-secrets", f"Kingtavo {args.ctx.environment}: EKS secrets envelope encryption", secrets_policy,
            args.kms_deletion_window_days, tags, parent=self, protect=args.ctx.protect)

        cluster_role = aws.iam.Role(f"{name}-control-plane-role", assume_role_policy=service_trust_policy(
            "eks.amazonaws.com"), tags=tags, opts=child)
        cluster_policy = aws.iam.RolePolicyAttachment(
            f"{name}-control-plane-policy", role=cluster_role.name,
            policy_arn=managed_policy(ctx, "AmazonEKSClusterPolicy"), opts=pulumi.ResourceOptions(parent=cluster_role))

        log_group = aws.cloudwatch.LogGroup(
            f"{name}-control-plane-logs", name=f"/aws/eks/{settings.name}/cluster",
            retention_in_days=settings.log_retention_days, kms_key_id=args.ctx.key_arn, tags=tags, opts=child)

        self.cluster = aws.eks.Cluster(
            f"{name}-eks",
            name=settings.name,
            version=settings.kubernetes_version,
            role_arn=cluster_role.arn,
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=args.private_subnet_ids,
                endpoint_private_access=True,
                endpoint_public_access=bool(settings.public_access_cidrs),
                public_access_cidrs=settings.public_access_cidrs or None,
            ),
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                resources=["secrets"],
                provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=self.secrets_key.arn),
            ),
            enabled_cluster_log_types=CONTROL_PLANE_LOGS,
            access_config=aws.eks.ClusterAccessConfigArgs(authentication_mode="API",
                                                          bootstrap_cluster_creator_admin_permissions=False),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=args.ctx.protect, depends_on=[cluster_policy, log_group]),
        )

        issuer_url = self.cluster.identities.apply(lambda ids: ids[0].oidcs[0].issuer)
        self.oidc_provider = aws.iam.OpenIdConnectProvider(
            f"{name}-oidc", url=issuer_url, client_id_lists=["sts.amazonaws.com"], tags=tags, opts=child)
        self.oidc_issuer = issuer_url.apply(lambda url: url.removeprefix("https://"))

        node_role = aws.iam.Role(f"{name}-node-role", assume_role_policy=service_trust_policy("ec2.amazonaws.com"),
                                 tags=tags, opts=child)
        node_policies = [
            aws.iam.RolePolicyAttachment(f"{name}-node-{policy}", role=node_role.name,
                                         policy_arn=managed_policy(ctx, policy),
                                         opts=pulumi.ResourceOptions(parent=node_role))
            # the CNI policy is not here: the vpc-cni add-on has its own IRSA role (below)
            for policy in ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly")
        ]
        launch_template = aws.ec2.LaunchTemplate(
            f"{name}-nodes-imdsv2",
            description="EKS nodes: IMDSv2 only, one hop, so pods cannot read the node role's credentials",
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=1),
            block_device_mappings=[aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                device_name="/dev/xvda", ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                    volume_size=settings.node_disk_size_gb, volume_type="gp3", encrypted="true"))],
            tag_specifications=[aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type="instance", tags=tags)],
            tags=tags, opts=child)
        cni = self._vpc_cni(name, args, tags)
        self.node_group = aws.eks.NodeGroup(
            f"{name}-nodes",
            cluster_name=self.cluster.name,
            node_role_arn=node_role.arn,
            subnet_ids=args.private_subnet_ids,
            instance_types=settings.node_instance_types,
            # the disk size lives in the launch template (EKS refuses both)
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(id=launch_template.id,
                                                               version=launch_template.latest_version),
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                min_size=settings.node_min_size, desired_size=settings.node_desired_size,
                max_size=settings.node_max_size),
            update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
            labels={"kingtavo.com/node-group": "general"},
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*node_policies, cni]),
        )
        addons = self._addons(name, args, cni_role_arn=cni.role.arn, after=[self.node_group])
        access = self._access_entries(name, args)

        self.name = self.cluster.name
        self.endpoint = self.cluster.endpoint
        self.node_role_arn = node_role.arn
        self.oidc_provider_arn = self.oidc_provider.arn
        self.kubeconfig = pulumi.Output.secret(pulumi.Output.all(
            self.cluster.name, self.cluster.endpoint, self.cluster.certificate_authority.data,
        ).apply(lambda values: kubeconfig(values[0], values[1], values[2], ctx.region)))
        self.provider = k8s.Provider(f"{name}-k8s", kubeconfig=self.kubeconfig, enable_server_side_apply=True,
                                     opts=pulumi.ResourceOptions(parent=self,
                                                                 depends_on=[self.node_group, *addons, *access]))
        self.register_outputs({
            "name": self.name, "endpoint": self.endpoint, "oidcProviderArn": self.oidc_provider_arn,
            "kubeconfig": self.kubeconfig,
        })

    def _vpc_cni(self, name: str, args: ClusterArgs, tags: dict) -> aws.eks.Addon:
        """vpc-cni before the nodes (they need it to get pod IPs), with the CNI policy on its own IRSA role."""
        role = ServiceAccountRole(f"{name}-vpc-cni-irsa", ServiceAccountRoleArgs(
            args.ctx, namespace="kube-system", service_account="aws-node",
            oidc_provider_arn=self.oidc_provider.arn, oidc_issuer=self.oidc_issuer),
            opts=pulumi.ResourceOptions(parent=self))
        policy = aws.iam.RolePolicyAttachment(
            f"{name}-vpc-cni-policy", role=role.name, policy_arn=managed_policy(args.ctx.aws, "AmazonEKS_CNI_Policy"),
            opts=pulumi.ResourceOptions(parent=role))
        addon = aws.eks.Addon(
            f"{name}-addon-vpc-cni", cluster_name=self.cluster.name, addon_name="vpc-cni",
            addon_version=args.settings.addon_versions.vpc_cni, service_account_role_arn=role.arn,
            # the network policy agent: without it the namespaces' NetworkPolicies would not be enforced
            configuration_values=json.dumps({"enableNetworkPolicy": "true"}),
            resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="PRESERVE", tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]))
        addon.role = role  # type: ignore[attr-defined]
        return addon

    def _addons(self, name: str, args: ClusterArgs, cni_role_arn: pulumi.Input[str],
                after: list[pulumi.Resource]) -> list[aws.eks.Addon]:
        """coredns, kube-proxy and the pod identity agent, pinned (vpc-cni is created before the nodes)."""
        versions = args.settings.addon_versions
        return [aws.eks.Addon(
            f"{name}-addon-{addon}", cluster_name=self.cluster.name, addon_name=addon,
            addon_version=getattr(versions, field), resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="PRESERVE", tags=args.ctx.tags("compute"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=after))
            for field, addon in ADDONS.items() if field != "vpc_cni"]

    def _access_entries(self, name: str, args: ClusterArgs) -> list[pulumi.Resource]:
        """An access entry and one access policy association per principal (deploy, preview, operators)."""
        partition = args.ctx.aws.partition
        grants: list[tuple[str, pulumi.Input[str], str, list[str]]] = []
        if args.deploy_role_arn is not None:
            grants.append(("deploy", args.deploy_role_arn, "cluster-admin", []))
        if args.preview_role_arn is not None:
            grants.append(("preview", args.preview_role_arn, "view", []))
        for index, operator in enumerate(args.settings.operators):
            grants.append((f"operator-{index}", operator.role_arn, operator.access, list(operator.namespaces)))
        created: list[pulumi.Resource] = []
        for who, principal, access, namespaces in grants:
            entry = aws.eks.AccessEntry(
                f"{name}-access-{who}", cluster_name=self.cluster.name, principal_arn=principal, type="STANDARD",
                tags=args.ctx.tags("compute"), opts=pulumi.ResourceOptions(parent=self))
            scope = ({"type": "namespace", "namespaces": namespaces} if namespaces else {"type": "cluster"})
            created.append(aws.eks.AccessPolicyAssociation(
                f"{name}-access-{who}-{access}", cluster_name=self.cluster.name, principal_arn=principal,
                policy_arn=access_policy_arn(partition, access), access_scope=scope,
                opts=pulumi.ResourceOptions(parent=entry, depends_on=[entry])))
        return created
