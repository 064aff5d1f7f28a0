"""Issue 14's main-program side: the StackReference wiring to the bootstrap project, EKS access entries,
managed add-ons, IMDSv2 nodes, and the namespaces' NetworkPolicies (issue 19)."""

from __future__ import annotations

import json

import pytest

from tests.support.plans import STACKS, plan
from tools.harness import referenced_stack_outputs, stack_config

ENTRY = "aws:eks/accessEntry:AccessEntry"
ASSOCIATION = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"
ADDON = "aws:eks/addon:Addon"
POLICY_BASE = "arn:aws:eks::aws:cluster-access-policy/"


def bootstrap_outputs(stack: str) -> tuple[dict, dict]:
    refs = stack_config(stack)["kingtavo:bootstrap"]
    outputs = referenced_stack_outputs({"kingtavo:bootstrap": refs})
    return outputs[refs["stack"]], outputs[refs["registryStack"]]


@pytest.mark.parametrize("stack", STACKS)
def test_the_registry_and_roles_come_from_the_bootstrap_stacks_by_reference(stack):
    result = plan(stack)
    own, registry = bootstrap_outputs(stack)
    references = sorted(r.inputs["name"] for r in result.resources if r.type == "pulumi:pulumi:StackReference")
    assert references == sorted({f"kingtavo/kingtavo-bootstrap/{stack}", "kingtavo/kingtavo-bootstrap/production"})
    assert result.outputs["etlRepositoryUrl"] == registry["etlRepositoryUrl"]
    assert result.outputs["etlLiveRelease"].startswith(registry["etlRepositoryUrl"] + ":")
    assert not result.by_type("aws:ecr/repository:Repository"), "the registry belongs to the bootstrap project"
    principals = {r.name: r.inputs["principalArn"] for r in result.by_type(ENTRY)}
    assert principals == {"cluster-access-deploy": own["deployRoleArn"],
                          "cluster-access-preview": own["previewRoleArn"]}


@pytest.mark.parametrize("stack", STACKS)
def test_deploy_is_cluster_admin_preview_may_only_view_and_no_creator_admin(stack):
    result = plan(stack)
    policies = {r.name: (r.inputs["policyArn"], r.inputs["accessScope"]) for r in result.by_type(ASSOCIATION)}
    assert policies == {
        "cluster-access-deploy-cluster-admin": (POLICY_BASE + "AmazonEKSClusterAdminPolicy", {"type": "cluster"}),
        "cluster-access-preview-view": (POLICY_BASE + "AmazonEKSViewPolicy", {"type": "cluster"}),
    }
    access = result.one("aws:eks/cluster:Cluster").inputs["accessConfig"]
    assert access == {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False}


def test_operators_from_settings_get_their_access_scoped_as_listed():
    operator = {"roleArn": "arn:aws:iam::111122223333:role/oncall", "access": "edit", "namespaces": ["etl"]}
    result = plan("staging", f"cluster.operators={json.dumps([operator])}")
    [association] = [r for r in result.by_type(ASSOCIATION) if r.name.startswith("cluster-access-operator-0")]
    assert association.inputs["principalArn"] == operator["roleArn"]
    assert association.inputs["policyArn"] == POLICY_BASE + "AmazonEKSEditPolicy"
    assert association.inputs["accessScope"] == {"type": "namespace", "namespaces": ["etl"]}


@pytest.mark.parametrize("stack", STACKS)
def test_managed_addons_are_pinned_from_settings_and_vpc_cni_has_its_own_role(stack):
    result = plan(stack)
    addons = {r.inputs["addonName"]: r for r in result.by_type(ADDON)}
    assert set(addons) == {"vpc-cni", "coredns", "kube-proxy", "eks-pod-identity-agent"}
    assert all(a.inputs["addonVersion"].startswith("v") and "-eksbuild." in a.inputs["addonVersion"]
               for a in addons.values())
    cni = addons["vpc-cni"]
    assert json.loads(cni.inputs["configurationValues"]) == {"enableNetworkPolicy": "true"}
    cni_role = next(r for r in result.by_type("aws:iam/role:Role")
                    if r.outputs["arn"] == cni.inputs["serviceAccountRoleArn"])
    trust = json.loads(cni_role.inputs["assumeRolePolicy"])["Statement"][0]["Condition"]["StringEquals"]
    assert any(v == "system:serviceaccount:kube-system:aws-node" for v in trust.values())
    attached = {r.inputs["policyArn"].rsplit("/", 1)[1]: r.inputs["role"]
                for r in result.by_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")}
    assert attached["AmazonEKS_CNI_Policy"] == cni_role.outputs["name"], "the CNI policy is not on the node role"


def test_addon_versions_are_settings():
    result = plan("staging", "cluster.addonVersions.coredns=v1.11.4-eksbuild.2")
    [coredns] = [r for r in result.by_type(ADDON) if r.inputs["addonName"] == "coredns"]
    assert coredns.inputs["addonVersion"] == "v1.11.4-eksbuild.2"


@pytest.mark.parametrize("stack", STACKS)
def test_nodes_require_imdsv2_with_one_hop(stack):
    result = plan(stack)
    template = result.one("aws:ec2/launchTemplate:LaunchTemplate")
    assert template.inputs["metadataOptions"] == {"httpEndpoint": "enabled", "httpTokens": "required",
                                                   "httpPutResponseHopLimit": 1}
    group = result.one("aws:eks/nodeGroup:NodeGroup")
    assert group.inputs["launchTemplate"]["id"] == template.outputs.get("id", group.inputs["launchTemplate"]["id"])
    assert "diskSize" not in group.inputs


@pytest.mark.parametrize("stack", STACKS)
def test_etl_and_backup_namespaces_are_fenced(stack):
    result = plan(stack)
    policies = {(r.inputs["metadata"]["name"], r.name.split("-")[0]): r.inputs["spec"]
                for r in result.by_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")}
    for owner in ("etl", "backup"):
        assert policies[("default-deny", owner)] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
        egress = policies[("allow-egress-outside", owner)]["egress"][0]
        assert "169.254.0.0/16" in egress["to"][0]["ipBlock"]["except"]
        assert sorted(p["port"] for p in egress["ports"]) == [443, 5432, 6543]
    assert policies[("allow-from-monitoring", "etl")]["ingress"][0]["ports"] == [{"protocol": "TCP", "port": "http"}]
    assert ("allow-from-monitoring", "backup") not in policies
