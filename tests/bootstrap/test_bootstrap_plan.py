"""The bootstrap stacks as a whole: GitHub settings, the registry, outputs, names, settings errors, the plan CLI."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from bootstrap.plan import main as plan_main
from tests.bootstrap.bootstrap_support import STACKS, BootstrapSettingsError, plan

ENVIRONMENT = "github:index/repositoryEnvironment:RepositoryEnvironment"
DEPLOYMENT_POLICY = "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy"
RULESET = "github:index/repositoryRuleset:RepositoryRuleset"
REQUIRED_CHECKS = ["Lint", "Test suite", "Policy gate (offline, base branch's pack)", "Preview staging",
                   "Preview production (after approval)"]
ALL_ENVIRONMENTS = {"preview-staging", "drift-staging", "staging", "restore-drill-staging",
                    "preview-production", "drift-production", "production"}


def team_id(slug: str) -> int:
    """The id the mocked GitHub API gives a team (tools/mocks.py), as rulesets and environments take it."""
    from tools.mocks import KingtavoMocks

    class Args:
        token, args = "github:index/getTeam:getTeam", {"slug": slug}

    return int(KingtavoMocks("eu-central-1").call(Args)["id"])


def environments() -> dict[str, dict]:
    return {r.inputs["environment"]: r.inputs for r in plan("production").by_type(ENVIRONMENT)}


def deployment_refs(environment: str) -> set[tuple[str, str]]:
    return {("branch", p.inputs["branchPattern"]) if "branchPattern" in p.inputs else ("tag", p.inputs["tagPattern"])
            for p in plan("production").by_type(DEPLOYMENT_POLICY) if p.inputs["environment"] == environment}


# --- GitHub settings -----------------------------------------------------------------------------------------

def test_github_settings_are_declared_once_by_production():
    assert set(environments()) == ALL_ENVIRONMENTS
    assert plan("production").outputs["githubEnvironments"] == sorted(ALL_ENVIRONMENTS)
    assert plan("staging").by_type(ENVIRONMENT) == [] and plan("staging").by_type(RULESET) == []
    assert all(r.inputs["repository"] == "infrastructure" for r in plan("production").by_type(ENVIRONMENT))


@pytest.mark.parametrize("environment", ["production", "preview-production"])
def test_production_and_its_preview_wait_for_a_reviewer_who_did_not_trigger_them(environment):
    settings = environments()[environment]
    assert settings["reviewers"] == [{"teams": [team_id("platform-leads")]}]
    assert settings["preventSelfReview"] is True
    assert settings["canAdminsBypass"] is False


@pytest.mark.parametrize("environment", sorted(ALL_ENVIRONMENTS - {"production", "preview-production"}))
def test_the_other_environments_wait_for_nobody(environment):
    settings = environments()[environment]
    assert "reviewers" not in settings and settings["preventSelfReview"] is False


def test_each_environment_admits_only_its_refs():
    """Deploys, drift and the drill from main (production also release tags); previews from pull requests only."""
    for environment in ALL_ENVIRONMENTS:
        assert environments()[environment]["deploymentBranchPolicy"] == {"protectedBranches": False,
                                                                         "customBranchPolicies": True}
    assert deployment_refs("production") == {("branch", "main"), ("tag", "v*.*.*")}
    for environment in ("staging", "restore-drill-staging", "drift-staging", "drift-production"):
        assert deployment_refs(environment) == {("branch", "main")}, environment
    for environment in ("preview-staging", "preview-production"):
        assert deployment_refs(environment) == {("branch", "refs/pull/*/merge")}, environment


def test_main_requires_the_ci_checks_and_a_code_owner_review():
    (ruleset,) = [r.inputs for r in plan("production").by_type(RULESET) if r.inputs["target"] == "branch"]
    assert ruleset["enforcement"] == "active"
    assert "refs/heads/main" in ruleset["conditions"]["refName"]["includes"]
    rules = ruleset["rules"]
    assert [c["context"] for c in rules["requiredStatusChecks"]["requiredChecks"]] == REQUIRED_CHECKS
    assert rules["requiredStatusChecks"]["strictRequiredStatusChecksPolicy"] is True
    review = rules["pullRequest"]
    assert review["requireCodeOwnerReview"] is True and review["requiredApprovingReviewCount"] >= 1
    assert review["dismissStaleReviewsOnPush"] is True and review["requireLastPushApproval"] is True
    assert rules["nonFastForward"] is True and rules["deletion"] is True
    assert "bypassActors" not in ruleset  # nobody merges around the gate


def test_release_tags_are_restricted_to_the_release_team():
    (ruleset,) = [r.inputs for r in plan("production").by_type(RULESET) if r.inputs["target"] == "tag"]
    assert ruleset["enforcement"] == "active"
    assert ruleset["conditions"]["refName"]["includes"] == ["refs/tags/v*"]
    assert {k: ruleset["rules"][k] for k in ("creation", "update", "deletion")} == {
        "creation": True, "update": True, "deletion": True}
    assert ruleset["bypassActors"] == [{"actorId": team_id("release-managers"), "actorType": "Team",
                                        "bypassMode": "always"}]


def test_the_deploy_workflows_environments_are_the_ones_the_roles_trust():
    """Each role's subject names an environment the repository declares (the OIDC subject claims match)."""
    declared = set(environments())
    for stack in STACKS:
        for role in plan(stack).by_type("aws:iam/role:Role"):
            for subject in json.dumps(json.loads(role.inputs["assumeRolePolicy"])).split('"'):
                if subject.startswith("repo:kingtavo/infrastructure:environment:"):
                    assert subject.rsplit(":", 1)[1] in declared, subject


def workflow_variables(stack: str) -> dict[tuple[str, str], str]:
    result = plan(stack)
    found = {(r.inputs["environment"], r.inputs["variableName"]): r.inputs["value"]
             for r in result.by_type("github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable")}
    found.update({("(repository)", r.inputs["variableName"]): r.inputs["value"]
                  for r in result.by_type("github:index/actionsVariable:ActionsVariable")})
    return found


def test_each_environment_gets_its_role_as_the_variable_its_workflow_reads():
    """vars.AWS_ROLE_ARN in each GitHub environment is the role that trusts that environment; no repository
    variable holds a role (tests/test_ci_contract.py proves the workflows read exactly these)."""
    role = "arn:aws:iam::111122223333:role/kingtavo-ci-{}"
    region = "eu-central-1"

    def expected(roles: dict[str, str]) -> dict[tuple[str, str], str]:
        return {key: value for environment, purpose in roles.items() for key, value in (
            ((environment, "AWS_ROLE_ARN"), role.format(purpose)), ((environment, "AWS_REGION"), region))}

    assert workflow_variables("production") == expected({
        "production": "production-deploy", "preview-production": "production-preview",
        "drift-production": "production-preview"})
    assert workflow_variables("staging") == expected({
        "staging": "staging-deploy", "preview-staging": "staging-preview", "drift-staging": "staging-preview",
        "restore-drill-staging": "staging-restore-drill"})
    for stack in STACKS:
        for (environment, name), arn in workflow_variables(stack).items():
            if name == "AWS_ROLE_ARN":
                subject = f"repo:kingtavo/infrastructure:environment:{environment}"
                (r,) = [r for r in plan(stack).by_type("aws:iam/role:Role") if r.outputs["arn"] == arn]
                assert subject in r.inputs["assumeRolePolicy"]


# --- the registry and the outputs ------------------------------------------------------------------------------

def test_one_shared_immutable_scanned_registry_with_pull_for_the_clusters_node_roles():
    (repository,) = plan("production").by_type("aws:ecr/repository:Repository")
    assert repository.inputs["name"] == "kingtavo/etl" and repository.protect
    assert repository.inputs["imageTagMutability"] == "IMMUTABLE"
    assert repository.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
    assert plan("staging").by_type("aws:ecr/repository:Repository") == []
    (policy,) = plan("production").by_type("aws:ecr/repositoryPolicy:RepositoryPolicy")
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    assert statements["CiPushesReleases"]["Principal"] == {
        "AWS": "arn:aws:iam::111122223333:role/kingtavo-ci-etl-image-push"}
    pull = statements["ClusterNodesPull"]
    assert pull["Principal"] == {"AWS": ["arn:aws:iam::111122223333:root"]}
    node_roles = ["arn:aws:iam::111122223333:role/cluster-node-role-*"]
    assert pull["Condition"] == {"ArnLike": {"aws:PrincipalArn": node_roles}}
    assert not any("Put" in a or "Upload" in a for a in pull["Action"])


EXPECTED_OUTPUTS = {
    "staging": {"environment", "accountId", "githubOidcProviderArn", "previewRoleArn", "deployRoleArn",
                "restoreDrillRoleArn"},
    "production": {"environment", "accountId", "githubOidcProviderArn", "previewRoleArn", "deployRoleArn",
                   "etlRepositoryUrl", "etlRepositoryName", "etlRepositoryArn", "etlRegistryId", "etlImagePushRoleArn",
                   "githubEnvironments"},
}


@pytest.mark.parametrize("stack", STACKS)
def test_outputs_are_the_contract_the_main_stacks_read(stack):
    outputs = plan(stack).outputs
    assert set(outputs) == EXPECTED_OUTPUTS[stack]
    assert outputs["deployRoleArn"] == f"arn:aws:iam::111122223333:role/kingtavo-ci-{stack}-deploy"
    assert outputs["previewRoleArn"] == f"arn:aws:iam::111122223333:role/kingtavo-ci-{stack}-preview"
    if stack == "production":
        assert outputs["etlRepositoryUrl"] == "111122223333.dkr.ecr.eu-central-1.amazonaws.com/kingtavo/etl"
        assert outputs["etlRepositoryName"] == "kingtavo/etl"
    assert not plan(stack).secret_outputs


# --- names ----------------------------------------------------------------------------------------------------

def physical_names(stack: str, *overrides: str) -> list[tuple[str, ...]]:
    """(scope, kind, name) of everything whose name is unique per AWS account or per GitHub repository."""
    result = plan(stack, *overrides)
    account = result.outputs["accountId"]
    names = []
    for r in result.resources:
        if r.read or not r.custom:
            continue
        if r.type == "aws:iam/role:Role":
            names.append((account, "iam role", r.inputs["name"]))
        elif r.type == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
            names.append((account, "oidc provider", r.inputs["url"]))
        elif r.type == "aws:ecr/repository:Repository":
            names.append((account, "ecr repository", r.inputs["name"]))
        elif r.type == ENVIRONMENT:
            names.append((r.inputs["repository"], "github environment", r.inputs["environment"]))
        elif r.type.endswith("ActionsRepositoryOidcSubjectClaimCustomizationTemplate"):
            names.append((r.inputs["repository"], "oidc subject template", "-"))
        elif r.type.endswith(":ActionsEnvironmentVariable"):
            names.append((r.inputs["repository"], f"variable of {r.inputs['environment']}", r.inputs["variableName"]))
        elif r.type.endswith(":ActionsVariable"):
            names.append((r.inputs["repository"], "repository variable", r.inputs["variableName"]))
        elif r.type == RULESET:
            names.append((r.inputs["repository"], f"{r.inputs['target']} ruleset", r.inputs["name"]))
        elif r.type.startswith(("aws:", "github:")) and r.type not in (
                "aws:iam/rolePolicy:RolePolicy", "aws:ecr/lifecyclePolicy:LifecyclePolicy",
                "aws:ecr/repositoryPolicy:RepositoryPolicy", DEPLOYMENT_POLICY):
            raise AssertionError(f"{r.type} is not classified: add its physical name here")
    return names


def test_the_bootstrap_stacks_share_no_physical_name():
    counted = Counter(name for stack in STACKS for name in physical_names(stack))
    assert [name for name, count in counted.items() if count > 1] == []
    assert len(counted) >= 10


COLLISIONS = [
    ("createOidcProvider=true", {"oidc provider"}),
    ("registry.manage=true", {"ecr repository", "iam role", "oidc subject template"}),
    ("github.manageRepositorySettings=true", {"github environment", "branch ruleset", "tag ruleset"}),
]


@pytest.mark.parametrize(("override", "kinds"), COLLISIONS)
def test_the_collision_check_catches_a_second_stack_owning_a_shared_resource(override, kinds):
    """Staging declaring what production owns, in production's account and repository, is caught."""
    staging = physical_names("staging", override, "registry.pullAccounts=['111122223333']",
                             "github.reviewerTeams=[platform-leads]", "github.releaseTeam=release-managers")
    counted = Counter([*physical_names("production"), *staging])
    assert {name[1] for name, count in counted.items() if count > 1} == kinds


# --- settings -------------------------------------------------------------------------------------------------

BAD_SETTINGS = [
    # field checks of every plane, the scalars, and unknown keys: all in one run
    (("accountId=1234", "github.repository=infrastructure", "registry.nodeRoleNamePatterns=[]", "registry.colour=blue",
      "createOidcProvider=maybe", "access.secretsProviderKeyArn=alias/kingtavo"),
     ("accountId", "github.repository", "registry.nodeRoleNamePatterns", "registry.colour", "createOidcProvider",
      "access.secretsProviderKeyArn")),
    # checks across fields once each plane's fields are valid
    (("github.reviewerTeams=[]", "github.releaseTeam=~", "registry.pullAccounts=[]"),
     ("github.reviewerTeams", "github.releaseTeam", "registry.pullAccounts")),
    # the environments are the workflows' contract (ci_environments.py), not settings
    (("github.previewEnvironment=preview-production", "access.restoreDrill=true"),
     ("github.previewEnvironment", "access.restoreDrill")),
]


@pytest.mark.parametrize(("overrides", "keys"), BAD_SETTINGS)
def test_bad_settings_are_named_by_key_before_anything_is_declared(overrides, keys):
    with pytest.raises(BootstrapSettingsError) as caught:
        plan("production", *overrides)
    problems = caught.value.problems
    assert sorted({p.split(":", 2)[1].split(":")[0] for p in problems}) == sorted(keys), problems
    assert all(p.startswith("kingtavo-bootstrap:") for p in problems)
    assert getattr(caught.value, "registered_resources", []) == []


def test_an_unknown_top_level_key_is_named():
    with pytest.raises(BootstrapSettingsError) as caught:
        plan("staging", "registryy={}")
    assert caught.value.problems == ["kingtavo-bootstrap:registryy: is not a known setting (check the spelling "
                                     "against bootstrap/Pulumi.yaml)"]


# --- the CLI ----------------------------------------------------------------------------------------------------

def test_plan_cli_prints_resources_and_the_outputs(capsys):
    assert plan_main(["--stack", "production"]) == 0
    out = capsys.readouterr().out
    assert "kingtavo-bootstrap:github:RepositorySettings github" in out
    assert "etlRepositoryUrl: \"111122223333.dkr.ecr.eu-central-1.amazonaws.com/kingtavo/etl\"" in out


def test_plan_cli_exits_2_naming_the_bad_key(capsys):
    assert plan_main(["--stack", "staging", "--set", "accountId=12"]) == 2
    assert "kingtavo-bootstrap:accountId: '12' is not a 12-digit AWS account id" in capsys.readouterr().err
