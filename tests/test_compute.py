"""The compute plane: the EKS cluster and the ETL blue/green pair, from offline runs of the whole program."""

from __future__ import annotations

import copy
import json

import pytest

from tests.support.plans import STACKS, plan
from tools.harness import stack_config
from tools.manifests import builtin_manifests, validate
from tools.plan import compare

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SERVICE = "kubernetes:core/v1:Service"
ECR = "111122223333.dkr.ecr.eu-central-1.amazonaws.com/kingtavo/etl"


def _changes(stack: str, *overrides: str):
    return compare(plan(stack), plan(stack, *overrides))


def _flip(stack: str) -> str:
    return "activeColor=" + ("green" if stack_config(stack)["kingtavo:activeColor"] == "blue" else "blue")


# --- switch semantics ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_flip_changes_only_the_two_service_selectors_on_this_plane(stack):
    changes = [c for c in _changes(stack, _flip(stack)) if c.type.startswith(("kubernetes:", "aws:"))]
    assert [(c.kind, c.type, c.name, c.paths) for c in changes] == [
        ("update", SERVICE, "etl-live-service", ("spec.selector.color",)),
        ("update", SERVICE, "etl-preview-service", ("spec.selector.color",)),
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_flip_moves_live_to_the_other_color_and_preview_to_the_old_one(stack):
    before = plan(stack)
    after = plan(stack, _flip(stack))
    live_before = before.one(SERVICE, "etl-live-service").inputs["spec"]["selector"]["color"]
    assert after.one(SERVICE, "etl-live-service").inputs["spec"]["selector"]["color"] != live_before
    assert after.one(SERVICE, "etl-preview-service").inputs["spec"]["selector"]["color"] == live_before
    assert after.outputs["liveColor"] != before.outputs["liveColor"]
    assert after.outputs["etlLiveRelease"] == before.outputs["etlIdleRelease"]


@pytest.mark.parametrize("stack", STACKS)
def test_flipping_back_is_a_rollback_to_the_same_plan(stack):
    flipped = plan(stack, _flip(stack))
    back = plan(stack, _flip(stack), "activeColor=" + stack_config(stack)["kingtavo:activeColor"])
    assert compare(plan(stack), back) == []
    assert compare(flipped, back) != []


@pytest.mark.parametrize("stack", STACKS)
def test_an_idle_release_changes_exactly_the_idle_deployment(stack):
    idle = "green" if stack_config(stack)["kingtavo:activeColor"] == "blue" else "blue"
    changes = [c for c in _changes(stack, f"etl.{idle}.image={ECR}:9.9.9")
               if c.type.startswith(("kubernetes:", "aws:"))]
    assert [(c.kind, c.type, c.name) for c in changes] == [("update", DEPLOYMENT, f"etl-{idle}")]
    assert "spec.template.spec.containers[0].image" in changes[0].paths


def test_deployment_selectors_never_depend_on_the_active_color():
    for color_setting in ("blue", "green"):
        result = plan("production", f"activeColor={color_setting}")
        for color in ("blue", "green"):
            selector = result.one(DEPLOYMENT, f"etl-{color}").inputs["spec"]["selector"]["matchLabels"]
            assert selector["color"] == color


@pytest.mark.parametrize("stack", STACKS)
def test_idle_color_stays_warm_with_as_many_replicas_as_live(stack):
    result = plan(stack)
    replicas = {d.name: d.inputs["spec"]["replicas"] for d in result.by_type(DEPLOYMENT)}
    wanted = stack_config(stack)["kingtavo:etl"]["replicas"]
    assert replicas == {"etl-blue": wanted, "etl-green": wanted}


def test_idle_replicas_is_a_setting():
    result = plan("production", "etl.idleReplicas=1")
    replicas = {d.name: d.inputs["spec"]["replicas"] for d in result.by_type(DEPLOYMENT)}
    assert replicas == {"etl-blue": 3, "etl-green": 1}


# --- hardening ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_pod_spec_is_hardened(stack):
    for deployment in plan(stack).by_type(DEPLOYMENT):
        pod = deployment.inputs["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        for container in pod["containers"]:
            ctx = container["securityContext"]
            assert ctx["runAsNonRoot"] is True and ctx["runAsUser"] > 0
            assert ctx["readOnlyRootFilesystem"] is True
            assert ctx["allowPrivilegeEscalation"] is False
            assert ctx["privileged"] is False
            assert ctx["capabilities"] == {"drop": ["ALL"]}
            assert ctx["seccompProfile"] == {"type": "RuntimeDefault"}
            assert set(container["resources"]["requests"]) == set(container["resources"]["limits"]) == {"cpu",
                                                                                                       "memory"}
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
            assert ":latest" not in container["image"] and (":" in container["image"] or "@" in container["image"])
            for env in container.get("env", []):
                assert "value" not in env or not _looks_secret(env["name"]), env["name"]
                if _looks_secret(env["name"]):
                    assert "secretKeyRef" in env["valueFrom"], env["name"]


def _looks_secret(name: str) -> bool:
    from components.core.settings import looks_secret

    return looks_secret(name)


@pytest.mark.parametrize("stack", STACKS)
def test_each_color_has_a_disruption_budget(stack):
    budgets = plan(stack).by_type("kubernetes:policy/v1:PodDisruptionBudget")
    assert sorted(b.inputs["spec"]["selector"]["matchLabels"]["color"] for b in budgets) == ["blue", "green"]
    assert all(b.inputs["spec"]["maxUnavailable"] == 1 for b in budgets)


@pytest.mark.parametrize("stack", STACKS)
def test_namespace_enforces_the_restricted_pod_security_standard(stack):
    namespace = plan(stack).one("kubernetes:core/v1:Namespace", "etl-namespace")
    assert namespace.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


# --- IRSA --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_service_account_is_bound_to_a_role_only_it_can_assume(stack):
    result = plan(stack)
    account = result.one("kubernetes:core/v1:ServiceAccount", "etl-service-account")
    role = result.one("aws:iam/role:Role", "etl-irsa-role")
    assert account.inputs["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == role.outputs["arn"]
    trust = json.loads(role.inputs["assumeRolePolicy"])
    (statement,) = trust["Statement"]
    oidc = result.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert statement["Principal"] == {"Federated": oidc.outputs["arn"]}
    conditions = statement["Condition"]["StringEquals"]
    assert sorted(conditions.values()) == ["sts.amazonaws.com", "system:serviceaccount:etl:etl"]
    deployments = result.by_type(DEPLOYMENT)
    assert {d.inputs["spec"]["template"]["spec"]["serviceAccountName"] for d in deployments} == {"etl"}


# --- the cluster -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_cluster_encrypts_secrets_with_its_own_rotating_key(stack):
    result = plan(stack)
    cluster = result.one("aws:eks/cluster:Cluster")
    (encryption,) = [cluster.inputs["encryptionConfig"]]
    assert encryption["resources"] == ["secrets"]
    key = result.one("aws:kms/key:Key", "cluster-secrets")
    assert encryption["provider"]["keyArn"] == key.outputs["arn"]
    assert key.inputs["enableKeyRotation"] is True
    principals = [s["Principal"] for s in json.loads(key.inputs["policy"])["Statement"]]
    assert "*" not in json.dumps(principals)


@pytest.mark.parametrize("stack", STACKS)
def test_cluster_endpoint_logging_and_version(stack):
    config = stack_config(stack)["kingtavo:cluster"]
    cluster = plan(stack).one("aws:eks/cluster:Cluster")
    vpc = cluster.inputs["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True
    assert vpc["publicAccessCidrs"] == config["publicAccessCidrs"]
    assert len(vpc["subnetIds"]) == stack_config(stack)["kingtavo:network"]["azCount"]
    assert all("private" in subnet for subnet in vpc["subnetIds"])
    assert cluster.inputs["enabledClusterLogTypes"] == ["api", "audit", "authenticator"]
    assert cluster.inputs["version"] == config["kubernetesVersion"]


def test_no_public_endpoint_without_cidrs():
    vpc = plan("staging", "cluster.publicAccessCidrs=[]").one("aws:eks/cluster:Cluster").inputs["vpcConfig"]
    assert vpc["endpointPublicAccess"] is False


@pytest.mark.parametrize(("stack", "sizes", "types"), [
    ("staging", (1, 2, 3), ["t3.large"]),
    ("production", (3, 3, 9), ["m6i.large", "m6a.large"]),
])
def test_node_group_sizes_per_stack(stack, sizes, types):
    nodes = plan(stack).one("aws:eks/nodeGroup:NodeGroup")
    scaling = nodes.inputs["scalingConfig"]
    assert (scaling["minSize"], scaling["desiredSize"], scaling["maxSize"]) == sizes
    assert nodes.inputs["instanceTypes"] == types


def test_production_cluster_and_its_key_are_protected_and_staging_is_not():
    for stack, protected in (("production", True), ("staging", False)):
        result = plan(stack)
        assert result.one("aws:eks/cluster:Cluster").protect is protected
        assert result.one("aws:kms/key:Key", "cluster-secrets").protect is protected


@pytest.mark.parametrize("stack", STACKS)
def test_kubeconfig_is_a_secret_output(stack):
    result = plan(stack)
    assert "kubeconfig" in result.secret_outputs
    provider = result.one("pulumi:providers:kubernetes")
    assert provider.raw_inputs["kubeconfig"] != provider.inputs["kubeconfig"], "kubeconfig input is not secret"


# --- Kubernetes schemas ------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_rendered_manifests_validate_against_the_kubernetes_schemas(stack):
    manifests = builtin_manifests(plan(stack))
    kinds = {m["kind"] for m in manifests}
    assert {"Deployment", "Service", "Namespace", "ServiceAccount", "PodDisruptionBudget", "ConfigMap"} <= kinds
    version = str(stack_config(stack)["kingtavo:cluster"]["kubernetesVersion"])
    assert validate(manifests, version) == []


def test_schema_validation_catches_a_broken_manifest():
    manifests = builtin_manifests(plan("staging"))
    broken = copy.deepcopy(next(m for m in manifests if m["kind"] == "Deployment"))
    broken["spec"]["template"]["spec"]["containers"][0]["securityContext"]["runAsNonRot"] = True
    broken["spec"]["replicas"] = "two"
    problems = validate([broken], "1.33")
    assert len(problems) >= 1
    assert all(p.startswith("Deployment/etl-") for p in problems)
