"""Sentry error tracking, from offline runs of the whole program: projects, public DSNs, paging alerts, the token."""

from __future__ import annotations

from typing import Any

import pytest

from components.core.environments import ENVIRONMENTS
from policies.catalogue import find_secret_values
from tests.support.plans import STACKS, plan
from tools.harness import PlannedResource, PlanResult, is_secret_wrapper, stack_config
from tools.plan import compare
from tools.policy_gate import evaluate, load_pack_config

PROJECT = "sentry:index/sentryProject:SentryProject"
KEY = "sentry:index/sentryKey:SentryKey"
ISSUE_ALERT = "sentry:index/sentryIssueAlert:SentryIssueAlert"
METRIC_ALERT = "sentry:index/sentryMetricAlert:SentryMetricAlert"
PROVIDER = "pulumi:providers:sentry"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
PAGERDUTY_ACTION = "sentry.integrations.pagerduty.notify_action.PagerDutyNotifyServiceAction"
APPS = ("web", "etl")


def _sentry_settings(stack: str) -> dict[str, Any]:
    return stack_config(stack)["kingtavo:sentry"]


def _alerts_of(result: PlanResult, slug: str, token: str) -> list[PlannedResource]:
    return [r for r in result.by_type(token) if r.inputs["project"] == slug]


def _sentry_resources(result: PlanResult) -> list[PlannedResource]:
    return [r for r in result.resources if r.type.startswith("sentry:")]


# --- projects and keys ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_each_stack_owns_a_web_and_an_etl_project_in_the_configured_org_and_team(stack):
    config = _sentry_settings(stack)
    projects = {r.inputs["slug"]: r for r in plan(stack).by_type(PROJECT)}
    assert set(projects) == {f"kingtavo-{app}-{stack}" for app in APPS}
    for project in projects.values():
        assert project.inputs["organization"] == config["organization"]
        assert project.inputs["teams"] == [config["team"]]
        assert "team" not in project.inputs, "the deprecated single-team field"
    assert projects[f"kingtavo-web-{stack}"].inputs["platform"] == "javascript-nextjs"
    assert projects[f"kingtavo-etl-{stack}"].inputs["platform"] == "python"


@pytest.mark.parametrize("stack", STACKS)
def test_every_project_has_a_client_key(stack):
    result = plan(stack)
    keys = result.by_type(KEY)
    assert sorted(k.inputs["project"] for k in keys) == sorted(f"kingtavo-{app}-{stack}" for app in APPS)
    assert all(k.inputs["organization"] == _sentry_settings(stack)["organization"] for k in keys)


def test_production_projects_are_protected_and_nothing_else_of_sentry_is():
    for stack, protected in (("production", True), ("staging", False)):
        resources = _sentry_resources(plan(stack))
        assert {r.name for r in resources if r.protect} == (
            {"sentry-web-project", "sentry-etl-project"} if protected else set())


# --- the DSN is public, and reaches the web app and the ETL ----------------------------------------------------


def _key(result: PlanResult, app: str) -> PlannedResource:
    return result.one(KEY, f"sentry-{app}-key")


@pytest.mark.parametrize("stack", STACKS)
def test_the_etl_reads_its_public_dsn_from_its_config_map(stack):
    result = plan(stack)
    config_map = result.one(CONFIG_MAP, "etl-config")
    dsn = _key(result, "etl").outputs["dsnPublic"]
    assert dsn.startswith("https://") and dsn.endswith("/" + _key(result, "etl").outputs["projectId"])
    assert config_map.inputs["data"]["SENTRY_DSN"] == dsn
    assert config_map.inputs["data"]["SENTRY_ENVIRONMENT"] == stack
    assert not is_secret_wrapper(config_map.raw_inputs["data"]["SENTRY_DSN"])


@pytest.mark.parametrize("stack", STACKS)
def test_the_web_dsn_is_a_plain_output_without_credentials(stack):
    result = plan(stack)
    for app, output in (("web", "sentryWebDsn"), ("etl", "sentryEtlDsn")):
        key = _key(result, app)
        assert result.outputs[output] == key.outputs["dsnPublic"]
        assert output not in result.secret_outputs
        assert find_secret_values(result.outputs[output]) == []
        # the deprecated secret DSN carries credentials; it must go nowhere
        leaked = key.outputs["dsnSecret"]
        assert find_secret_values(leaked), "the mock's secret DSN should look like one, or this test proves nothing"
        assert leaked not in repr([r.inputs for r in result.resources]) and leaked not in repr(result.outputs)


VERCEL_VARIABLE = "vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable"


def _vercel_variable(result: PlanResult, key: str) -> PlannedResource:
    [variable] = [r for r in result.by_type(VERCEL_VARIABLE) if r.inputs["key"] == key]
    return variable


@pytest.mark.parametrize("stack", STACKS)
def test_the_web_dsn_reaches_vercel_as_a_public_variable_of_the_stack_s_target(stack):
    result = plan(stack)
    variable = _vercel_variable(result, "NEXT_PUBLIC_SENTRY_DSN")
    assert variable.inputs["value"] == _key(result, "web").outputs["dsnPublic"]
    assert variable.inputs["sensitive"] is False
    assert variable.inputs["targets"] == [ENVIRONMENTS[stack].vercel_target]
    assert _vercel_variable(result, "NEXT_PUBLIC_SENTRY_ENVIRONMENT").inputs["value"] == stack


@pytest.mark.parametrize("stack", STACKS)
def test_the_auth_token_reaches_vercel_only_as_a_sensitive_server_variable(stack):
    result = plan(stack)
    token = result.secrets["kingtavo:sentryAuthToken"]
    holders = [r for r in result.by_type(VERCEL_VARIABLE) if token in repr(r.inputs)]
    assert [(r.inputs["key"], r.inputs["sensitive"]) for r in holders] == [("SENTRY_AUTH_TOKEN", True)]
    assert is_secret_wrapper(holders[0].raw_inputs["value"])


# --- the auth token stays secret -------------------------------------------------------------------------------


def _occurrences(value: Any, needle: str, under_secret: bool = False) -> list[bool]:
    """For each place `needle` appears: whether it sits under a secret wrapper."""
    if is_secret_wrapper(value):
        return _occurrences(value["value"], needle, True)
    if isinstance(value, str):
        return [under_secret] if needle in value else []
    if isinstance(value, dict):
        return [found for item in value.values() for found in _occurrences(item, needle, under_secret)]
    if isinstance(value, list):
        return [found for item in value for found in _occurrences(item, needle, under_secret)]
    return []


@pytest.mark.parametrize("stack", STACKS)
def test_the_auth_token_reaches_the_sentry_provider_as_a_secret_and_nothing_in_the_clear(stack):
    result = plan(stack)
    token = result.secrets["kingtavo:sentryAuthToken"]
    provider = result.one(PROVIDER)
    assert provider.inputs["token"] == token
    assert is_secret_wrapper(provider.raw_inputs["token"])
    found = {r.name: _occurrences(r.raw_inputs, token) for r in result.resources}
    assert all(all(flags) for flags in found.values()), {name: f for name, f in found.items() if not all(f)}
    plain_outputs = {k: v for k, v in result.outputs.items() if k not in result.secret_outputs}
    assert token not in repr(plain_outputs)


@pytest.mark.parametrize("stack", STACKS)
def test_every_sentry_resource_uses_the_provider_that_holds_the_token(stack):
    result = plan(stack)
    provider = result.one(PROVIDER)
    resources = _sentry_resources(result)
    assert len(resources) == 10
    assert all(r.provider.startswith(provider.urn + "::") for r in resources), [r.provider for r in resources]


# --- alerts page the critical route -------------------------------------------------------------------------------


def _pagerduty_ids(stack: str) -> tuple[str, str]:
    config = _sentry_settings(stack)
    return str(config["pagerdutyIntegrationId"]), str(config["pagerdutyServiceId"])


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("app", APPS)
def test_a_fatal_error_pages(stack, app):
    alerts = _alerts_of(plan(stack), f"kingtavo-{app}-{stack}", ISSUE_ALERT)
    fatal = [a for a in alerts if {"id": "sentry.rules.filters.level.LevelFilter", "match": "eq", "level": "50"}
             in a.inputs["filters"]]
    assert len(fatal) == 1
    alert = fatal[0].inputs
    assert alert["actionMatch"] == "any" and alert["filterMatch"] == "all"
    assert {c["id"].rsplit(".", 1)[1] for c in alert["conditions"]} == {
        "FirstSeenEventCondition", "RegressionEventCondition", "ReappearedEventCondition"}


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("app", APPS)
def test_a_burst_of_errors_pages(stack, app):
    alerts = _alerts_of(plan(stack), f"kingtavo-{app}-{stack}", ISSUE_ALERT)
    bursts = [a.inputs for a in alerts if any("EventFrequencyCondition" in c["id"] for c in a.inputs["conditions"])]
    assert len(bursts) == 1
    assert bursts[0]["conditions"] == [{
        "id": "sentry.rules.conditions.event_frequency.EventFrequencyCondition", "comparisonType": "count",
        "value": str(_sentry_settings(stack)["errorBurstCount"]), "interval": "5m"}]
    assert bursts[0]["filters"] == [{"id": "sentry.rules.filters.level.LevelFilter", "match": "gte", "level": "40"}]


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("app", APPS)
def test_the_error_rate_pages_above_the_threshold_over_five_minutes(stack, app):
    alerts = _alerts_of(plan(stack), f"kingtavo-{app}-{stack}", METRIC_ALERT)
    assert len(alerts) == 1
    alert = alerts[0].inputs
    assert (alert["dataset"], alert["aggregate"], alert["timeWindow"], alert["thresholdType"]) == (
        "transactions", "failure_rate()", 5, 0)
    [trigger] = alert["triggers"]
    # Sentry's failure_rate() is a fraction: 5% is 0.05
    assert trigger["alertThreshold"] == pytest.approx(_sentry_settings(stack)["errorRateThresholdPercent"] / 100)
    assert trigger["label"] == "critical" and trigger["thresholdType"] == 0


@pytest.mark.parametrize("stack", STACKS)
def test_every_alert_is_scoped_to_the_stack_and_routes_only_to_the_critical_pagerduty_service(stack):
    result = plan(stack)
    integration, service = _pagerduty_ids(stack)
    issue_alerts, metric_alerts = result.by_type(ISSUE_ALERT), result.by_type(METRIC_ALERT)
    assert len(issue_alerts) == 4 and len(metric_alerts) == 2
    for alert in issue_alerts + metric_alerts:
        assert alert.inputs["environment"] == stack
        assert stack in alert.inputs["name"]
    for alert in issue_alerts:
        assert alert.inputs["actions"] == [
            {"id": PAGERDUTY_ACTION, "account": integration, "service": service, "severity": "critical"}]
    for alert in metric_alerts:
        actions = [action for trigger in alert.inputs["triggers"] for action in trigger["actions"]]
        assert actions == [{"type": "pagerduty", "targetType": "specific", "targetIdentifier": service,
                            "integrationId": int(integration)}]


def test_thresholds_follow_the_settings():
    result = plan("staging", "sentry.errorRateThresholdPercent=2.5", "sentry.errorBurstCount=7")
    metric = result.one(METRIC_ALERT, "sentry-web-error-rate-alert").inputs
    assert metric["triggers"][0]["alertThreshold"] == pytest.approx(0.025)
    assert "2.5%" in metric["name"]
    burst = result.one(ISSUE_ALERT, "sentry-etl-burst-alert").inputs
    assert burst["conditions"][0]["value"] == "7"


# --- blue/green and the policy pack --------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_flipping_the_active_color_changes_nothing_in_sentry(stack):
    flipped = "activeColor=" + ("green" if stack_config(stack)["kingtavo:activeColor"] == "blue" else "blue")
    changes = compare(plan(stack), plan(stack, flipped))
    assert changes, "the flip changes the Services at least"
    assert [c for c in changes if c.type.startswith(("sentry:", PROVIDER)) or c.name == "etl-config"] == []


@pytest.mark.parametrize("stack", STACKS)
def test_the_policy_pack_passes_the_sentry_resources_and_the_etl_config_map(stack):
    result = plan(stack)
    ours = {r.urn for r in _sentry_resources(result)} | {result.one(PROVIDER).urn,
                                                        result.one(CONFIG_MAP, "etl-config").urn}
    violations = evaluate(result.resources, load_pack_config())
    assert [v for v in violations if v.urn in ours] == []


def test_the_policy_pack_would_catch_the_secret_dsn_in_the_etl_config():
    """The gate does look at the ConfigMap: the credential-bearing DSN there is a violation."""
    result = plan("staging")
    config_map = result.one(CONFIG_MAP, "etl-config")
    leaked = _key(result, "etl").outputs["dsnSecret"]
    planted = PlannedResource(**{**config_map.__dict__, "inputs": {
        **config_map.inputs, "data": {**config_map.inputs["data"], "SENTRY_DSN": leaked}}})
    violations = evaluate([planted], load_pack_config())
    assert [v.policy_name for v in violations] == ["kubernetes-configmap-no-secrets"]
