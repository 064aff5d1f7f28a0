"""The frontend plane on Vercel, from offline runs of the whole program over both stacks.

What is checked: one project, declared (and protected) by production only and looked up by staging;
each stack's variables target only its own Vercel environment, secrets are sensitive and stay
Pulumi secrets; no Vercel object is declared by both stacks; blue/green moves only the aliases.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from components.core.settings import SettingsError
from tests.support.plans import STACKS, plan
from tests.support.secret_walk import find_leaks
from tools.harness import (
    PlannedResource,
    PlanResult,
    is_secret_wrapper,
    run_stack,
    stack_config,
    vercel_deployment,
    vercel_project_id,
)
from tools.plan import compare
from tools.policy_gate import evaluate, load_pack_config

PROJECT = "vercel:index/project:Project"
ENV_VAR = "vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable"
DEPLOYMENT = "vercel:index/deployment:Deployment"
ALIAS = "vercel:index/alias:Alias"
PROJECT_DOMAIN = "vercel:index/projectDomain:ProjectDomain"
BYPASS = "vercel:index/projectProtectionBypass:ProjectProtectionBypass"
K8S_SERVICE = "kubernetes:core/v1:Service"
K8S_DEPLOYMENT = "kubernetes:apps/v1:Deployment"
ECR = "111122223333.dkr.ecr.eu-central-1.amazonaws.com/kingtavo/etl"

# The config secret (harness key) behind each server-side variable.
SERVER_SECRETS = {
    "SUPABASE_SERVICE_ROLE_KEY": "kingtavo:supabaseServiceRoleKey",
    "SENTRY_AUTH_TOKEN": "kingtavo:sentryAuthToken",
}


def _frontend(stack: str) -> dict[str, Any]:
    return stack_config(stack)["kingtavo:frontend"]


def _active(stack: str) -> str:
    return stack_config(stack)["kingtavo:activeColor"]


def _idle(stack: str) -> str:
    return "green" if _active(stack) == "blue" else "blue"


def _flip(stack: str) -> str:
    return f"activeColor={_idle(stack)}"


def _vercel(result: PlanResult) -> list[PlannedResource]:
    return [r for r in result.resources if r.type.startswith("vercel:") and not r.read]


def _variables(result: PlanResult) -> dict[str, PlannedResource]:
    return {r.inputs["key"]: r for r in result.by_type(ENV_VAR)}


def _server_secret_values(stack: str) -> dict[str, str]:
    """Each server-side variable's secret value, as the harness generated it for this stack."""
    secrets = plan(stack).secrets
    values = {key: secrets[config_key] for key, config_key in SERVER_SECRETS.items()}
    values.update(secrets["kingtavo:frontendServerSecrets"])
    return values


# --- the project: one, owned by production --------------------------------------------------------------


def test_production_declares_the_project_and_protects_it():
    project = plan("production").one(PROJECT)
    settings = _frontend("production")
    assert project.protect
    assert project.inputs["name"] == settings["projectName"]
    assert project.inputs["framework"] == "nextjs"
    assert project.inputs["gitRepository"] == {"type": "github", "repo": settings["gitRepository"],
                                               "productionBranch": settings["productionBranch"]}
    assert project.inputs["nodeVersion"] == settings["nodeVersion"]
    assert project.inputs["skewProtection"] == settings["skewProtection"]
    assert project.inputs["vercelAuthentication"] == {"deploymentType": "standard_protection_new"}
    # only the aliases decide what is live: new production builds never take the custom domains
    assert project.inputs["autoAssignCustomDomains"] is False


def test_root_directory_is_passed_when_set():
    project = plan("production", "frontend.rootDirectory=apps/web").one(PROJECT)
    assert project.inputs["rootDirectory"] == "apps/web"
    assert "rootDirectory" not in plan("production").one(PROJECT).inputs


def test_staging_looks_the_project_up_instead_of_declaring_it():
    staging = plan("staging")
    assert [r for r in staging.resources if r.type == PROJECT] == []  # neither declared nor read as a resource
    # the lookup answers with the id of the project production declares under the same name
    production_project_id = vercel_project_id(plan("production").one(PROJECT).inputs["name"])
    assert _frontend("staging")["projectName"] == _frontend("production")["projectName"]
    project_ids = {r.inputs["projectId"] for r in _vercel(staging) if "projectId" in r.inputs}
    assert project_ids == {production_project_id}


def test_every_production_vercel_resource_belongs_to_the_declared_project():
    production = plan("production")
    project_id = vercel_project_id(production.one(PROJECT).inputs["name"])
    assert {r.inputs["projectId"] for r in _vercel(production) if "projectId" in r.inputs} == {project_id}


# What Vercel object each resource type manages; None: every create is a new object (a deployment).
VERCEL_OBJECT: dict[str, Callable[[dict], tuple | None]] = {
    PROJECT: lambda i: ("project", i["name"]),
    ENV_VAR: lambda i: ("env", i["projectId"], i["key"], tuple(sorted(i.get("targets") or ())),
                        tuple(i.get("customEnvironmentIds") or ()), i.get("gitBranch")),
    DEPLOYMENT: lambda i: None,
    ALIAS: lambda i: ("alias", i["alias"]),
    PROJECT_DOMAIN: lambda i: ("domain", i["domain"]),
    # a bypass is addressed by its secret, generated per stack (the mocks' fake randoms repeat across stacks)
    BYPASS: lambda i: ("bypass", i["projectId"], i["note"]),
    "vercel:index/logDrain:LogDrain": lambda i: ("log-drain", i["name"]),
}


def _same_declaration(inputs: dict) -> tuple:
    """Other planes' Vercel resources: the same inputs in both stacks would be one object declared twice."""
    return ("declared", json.dumps(inputs, sort_keys=True, default=str))


def _vercel_objects(stack: str) -> set[tuple]:
    objects = set()
    for resource in _vercel(plan(stack)):
        identity = VERCEL_OBJECT.get(resource.type, _same_declaration)(resource.inputs)
        if identity is not None:
            objects.add(identity)
    return objects


def test_no_vercel_object_is_declared_by_both_stacks():
    staging, production = _vercel_objects("staging"), _vercel_objects("production")
    assert staging and production
    assert staging & production == set()


# --- environment variables -----------------------------------------------------------------------------


def test_production_variables_target_only_production():
    variables = _variables(plan("production"))
    assert variables
    for key, variable in variables.items():
        assert variable.inputs["targets"] == ["production"], key
        assert "gitBranch" not in variable.inputs and "customEnvironmentIds" not in variable.inputs, key


def test_staging_secrets_reach_only_staging_s_own_environment_never_a_branch_preview():
    """Staging deploys into its Vercel custom environment: its sensitive variables live only there, so a
    feature branch's preview build (Vercel's `preview` target) gets none of them; public ones it may have."""
    result = plan("staging")
    [custom] = result.by_type("vercel:index/customEnvironment:CustomEnvironment")
    assert custom.inputs["name"] == "staging" and "branchTracking" not in custom.inputs
    variables = _variables(result)
    sensitive = {k: v for k, v in variables.items() if v.inputs["sensitive"]}
    assert {"SUPABASE_SERVICE_ROLE_KEY", "SENTRY_AUTH_TOKEN", "STRIPE_SECRET_KEY"} <= set(sensitive)
    custom_ids = {tuple(v.inputs["customEnvironmentIds"]) for v in variables.values()}
    assert len(custom_ids) == 1 and next(iter(custom_ids))[0].startswith("cus_")  # the mock's id of `custom`
    for key, variable in variables.items():
        assert "gitBranch" not in variable.inputs, key
        if variable.inputs["sensitive"]:
            assert "targets" not in variable.inputs, f"{key} would reach every preview branch"
        else:
            assert variable.inputs["targets"] == ["preview"], key
    for deployment in result.by_type("vercel:index/deployment:Deployment"):
        assert deployment.inputs["customEnvironmentId"] == next(iter(custom_ids))[0]


@pytest.mark.parametrize("stack", STACKS)
def test_public_values_are_plain_settings_and_derived_from_their_one_source(stack):
    result = plan(stack)
    supabase = stack_config(stack)["kingtavo:supabase"]
    sentry_key = result.one("sentry:index/sentryKey:SentryKey", "sentry-web-key")
    expected = {
        "NEXT_PUBLIC_SUPABASE_URL": supabase["url"],
        "NEXT_PUBLIC_SUPABASE_ANON_KEY": supabase["anonKey"],
        "NEXT_PUBLIC_SENTRY_DSN": sentry_key.outputs["dsnPublic"],
        "NEXT_PUBLIC_SENTRY_ENVIRONMENT": stack,
        **_frontend(stack)["publicEnv"],
    }
    variables = _variables(result)
    public = {key: v.inputs["value"] for key, v in variables.items() if not v.inputs["sensitive"]}
    assert public == expected
    assert all(key.startswith("NEXT_PUBLIC_") for key in public)


@pytest.mark.parametrize("stack", STACKS)
def test_every_server_side_secret_is_sensitive_and_a_pulumi_secret(stack):
    variables = _variables(plan(stack))
    secret_values = _server_secret_values(stack)
    assert set(secret_values) == {"SUPABASE_SERVICE_ROLE_KEY", "SENTRY_AUTH_TOKEN",
                                  *_frontend(stack)["serverSecretNames"]}
    sensitive = {key for key, v in variables.items() if v.inputs["sensitive"] is True}
    assert sensitive == set(secret_values)
    for key, value in secret_values.items():
        raw = variables[key].raw_inputs["value"]
        assert is_secret_wrapper(raw), key
        assert raw["value"] == value, key


@pytest.mark.parametrize("stack", STACKS)
def test_no_frontend_secret_value_appears_unmarked_anywhere(stack):
    result = plan(stack)
    bypass = result.one("random:index/randomPassword:RandomPassword", "frontend-protection-bypass-secret")
    secrets = [*_server_secret_values(stack).values(), bypass.outputs["result"]]
    leaks = [f"{r.type} {r.name}{path}" for r in result.resources for path in find_leaks(r.raw_inputs, secrets)]
    assert leaks == [], "secret values outside a Pulumi secret"
    for name, value in result.outputs.items():
        if name not in result.secret_outputs:
            assert not find_leaks(value, secrets), name


def test_server_side_secrets_follow_the_secret_config():
    result = plan("production", "frontend.serverSecretNames=[STRIPE_SECRET_KEY, RESEND_API_KEY]")
    variables = _variables(result)
    assert variables["RESEND_API_KEY"].inputs["sensitive"] is True
    assert is_secret_wrapper(variables["RESEND_API_KEY"].raw_inputs["value"])
    assert variables["RESEND_API_KEY"].inputs["value"] == \
        result.secrets["kingtavo:frontendServerSecrets"]["RESEND_API_KEY"]


@pytest.mark.parametrize(("override", "key", "source"), [
    ("frontend.publicEnv.NEXT_PUBLIC_SUPABASE_URL=https://other.supabase.co", "NEXT_PUBLIC_SUPABASE_URL",
     "kingtavo:supabase.url"),
    ("frontend.publicEnv.NEXT_PUBLIC_SENTRY_DSN=https://abc@o1.ingest.sentry.io/1", "NEXT_PUBLIC_SENTRY_DSN",
     "the Sentry web project's key"),
])
def test_a_public_value_with_two_sources_is_rejected_naming_the_key(override, key, source):
    with pytest.raises(SettingsError) as caught:
        run_stack("staging", [override])
    assert caught.value.problems == [f"kingtavo:frontend.publicEnv.{key}: is set by the program from {source}; "
                                     f"remove it here"]
    assert caught.value.registered_resources == []  # type: ignore[attr-defined]


def test_a_server_secret_named_like_a_derived_one_is_rejected_naming_the_key():
    with pytest.raises(SettingsError) as caught:
        run_stack("staging", ["frontend.serverSecretNames=[STRIPE_SECRET_KEY, SENTRY_AUTH_TOKEN]"])
    assert caught.value.problems == [
        "kingtavo:frontend.serverSecretNames: SENTRY_AUTH_TOKEN is set by the program from kingtavo:sentryAuthToken; "
        "remove it here"]
    assert caught.value.registered_resources == []  # type: ignore[attr-defined]


@pytest.mark.parametrize("stack", STACKS)
def test_the_secret_hygiene_pack_passes_the_frontend_plane(stack):
    frontend = [r for r in plan(stack).resources if r.type.startswith("vercel:") and not r.read]
    assert evaluate(frontend, load_pack_config()) == []


# --- deployments and aliases ---------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_one_deployment_per_color_from_its_ref_for_the_stack_s_environment(stack):
    result = plan(stack)
    deployments = {d.name: d.inputs for d in result.by_type(DEPLOYMENT)}
    assert set(deployments) == {"frontend-blue", "frontend-green"}
    for color in ("blue", "green"):
        inputs = deployments[f"frontend-{color}"]
        assert inputs["ref"] == _frontend(stack)[color]["ref"]
        assert inputs["production"] is (stack == "production")
        assert inputs["meta"] == {"kingtavoColor": color}


@pytest.mark.parametrize("stack", STACKS)
def test_the_domain_is_on_the_active_color_and_the_idle_domain_on_the_other(stack):
    result = plan(stack)
    deployment_id = {d.name: vercel_deployment(d.name, d.inputs)[0] for d in result.by_type(DEPLOYMENT)}
    live, idle = result.one(ALIAS, "frontend-live-alias"), result.one(ALIAS, "frontend-idle-alias")
    assert live.inputs == {"alias": _frontend(stack)["domain"],
                           "deploymentId": deployment_id[f"frontend-{_active(stack)}"]}
    assert idle.inputs == {"alias": _frontend(stack)["idleDomain"],
                           "deploymentId": deployment_id[f"frontend-{_idle(stack)}"]}
    assert result.outputs["liveUrl"] == f"https://{_frontend(stack)['domain']}"
    assert result.outputs["idleUrl"] == f"https://{_frontend(stack)['idleDomain']}"
    assert result.outputs["liveDeploymentId"] == deployment_id[f"frontend-{_active(stack)}"]
    assert result.outputs["idleDeploymentId"] == deployment_id[f"frontend-{_idle(stack)}"]


def test_only_production_s_live_domain_is_a_project_domain():
    (domain,) = plan("production").by_type(PROJECT_DOMAIN)
    assert domain.inputs["domain"] == _frontend("production")["domain"]
    assert plan("staging").by_type(PROJECT_DOMAIN) == []


@pytest.mark.parametrize("stack", STACKS)
def test_ci_gets_a_protection_bypass_whose_secret_stays_secret(stack):
    result = plan(stack)
    bypass = result.one(BYPASS)
    assert is_secret_wrapper(bypass.raw_inputs["secret"])
    generated = result.one("random:index/randomPassword:RandomPassword", "frontend-protection-bypass-secret")
    assert generated.inputs["length"] == 32 and generated.inputs["special"] is False
    assert bypass.inputs["secret"] == generated.outputs["result"]
    assert stack in bypass.inputs["note"]
    assert "vercelProtectionBypassSecret" in result.secret_outputs


# --- blue/green: the flip, an idle release, rollback ----------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_the_flip_changes_exactly_the_two_aliases_among_vercel_resources(stack):
    changes = [c for c in compare(plan(stack), plan(stack, _flip(stack))) if c.type.startswith("vercel:")]
    assert [(c.kind, c.type, c.name, c.paths) for c in changes] == [
        ("update", ALIAS, "frontend-idle-alias", ("deploymentId",)),
        ("update", ALIAS, "frontend-live-alias", ("deploymentId",)),
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_the_flip_changes_nothing_outside_kubernetes_services_and_vercel_aliases(stack):
    changes = compare(plan(stack), plan(stack, _flip(stack)))
    assert changes
    assert [c for c in changes if c.type not in (K8S_SERVICE, ALIAS)] == []
    assert all(c.kind == "update" for c in changes)


@pytest.mark.parametrize("stack", STACKS)
def test_the_flip_swaps_the_live_and_idle_deployments(stack):
    before, after = plan(stack), plan(stack, _flip(stack))
    assert after.outputs["liveDeploymentId"] == before.outputs["idleDeploymentId"]
    assert after.outputs["idleDeploymentId"] == before.outputs["liveDeploymentId"]
    assert after.outputs["liveUrl"] == before.outputs["liveUrl"]  # the domain stays, the build behind it moves


@pytest.mark.parametrize("stack", STACKS)
def test_flipping_back_is_the_rollback_to_the_same_plan(stack):
    back = plan(stack, _flip(stack), f"activeColor={_active(stack)}")
    assert compare(plan(stack), back) == []


@pytest.mark.parametrize("stack", STACKS)
def test_an_idle_release_rebuilds_only_the_idle_color(stack):
    idle = _idle(stack)
    changes = compare(plan(stack), plan(stack, f"frontend.{idle}.ref=v9.9.9", f"etl.{idle}.image={ECR}:9.9.9"))
    vercel_changes = [(c.kind, c.type, c.name, c.paths) for c in changes if c.type.startswith("vercel:")]
    # the idle build is a new deployment, and the idle domain follows it; the live alias does not move
    assert vercel_changes == [
        ("update", ALIAS, "frontend-idle-alias", ("deploymentId",)),
        ("update", DEPLOYMENT, f"frontend-{idle}", ("ref",)),
    ]
    others = [(c.type, c.name) for c in changes if not c.type.startswith("vercel:")]
    assert others == [(K8S_DEPLOYMENT, f"etl-{idle}")]


def test_the_live_url_never_depends_on_which_color_is_live():
    for stack in STACKS:
        assert plan(stack).outputs["liveUrl"] == plan(stack, _flip(stack)).outputs["liveUrl"]
        assert plan(stack).outputs["idleUrl"] == plan(stack, _flip(stack)).outputs["idleUrl"]
