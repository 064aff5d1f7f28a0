"""`plaintext-sinks-no-secret-literals`: a compliant fixture per sink and one mutation per way to break it,
asserting the exact message. Sinks: tags, labels and annotations, Helm values at any depth, SSM String
parameters, Vercel deployment environments and log-drain headers, ECS container definitions, EventBridge
target input, EC2 user data."""

from __future__ import annotations

import base64
import json

import pytest
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE
from pulumi_policy.secret import Secret as PolicySecret

from tests.support.policy_fixtures import SECRET_SHAPED, alnum, violations

RULE = "plaintext-sinks-no-secret-literals"
HELM = "kubernetes:helm.sh/v3:Release"
HELM_FIX = ("Fix: put the secret in a Kubernetes Secret (an ExternalSecret fills it) and point the chart at it "
            "(existingSecret, *_file, secretKeyRef).")


def helm_values() -> dict:
    """Compliant values: secrets referenced by Secret name or mounted file, never inlined."""
    return {"grafana": {"admin": {"existingSecret": "grafana-admin", "userKey": "user", "passwordKey": "password"}},
            "alertmanager": {"config": {"receivers": [{"name": "pagerduty", "pagerduty_configs": [
                {"routing_key_file": "/etc/alertmanager/secrets/receivers/routing-key"}]}]},
                "alertmanagerSpec": {"secrets": ["alertmanager-receivers"]}},
            "prometheus": {"prometheusSpec": {"additionalScrapeConfigs": [{"job_name": "supabase", "basic_auth": {
                "username": "service_role", "password_file": "/etc/prometheus/secrets/supabase/key"}}]}}}


def test_helm_values_compliant():
    assert violations(RULE, HELM, {"chart": "kube-prometheus-stack", "values": helm_values()}) == []


@pytest.mark.parametrize(("mutate", "path", "name"), [
    (lambda v: v["grafana"].__setitem__("adminPassword", "fake-" + alnum(12)), "values.grafana.adminPassword",
     "adminPassword"),
    (lambda v: v["alertmanager"]["config"]["receivers"][0]["pagerduty_configs"][0].__setitem__(
        "routing_key", "fake-" + alnum(12)),
     "values.alertmanager.config.receivers[0].pagerduty_configs[0].routing_key", "routing_key"),
    (lambda v: v["prometheus"]["prometheusSpec"]["additionalScrapeConfigs"][0]["basic_auth"].__setitem__(
        "password", "fake-" + alnum(12)),
     "values.prometheus.prometheusSpec.additionalScrapeConfigs[0].basic_auth.password", "password"),
], ids=["adminPassword", "routing_key-deep-in-a-list", "basic_auth.password"])
def test_helm_values_fail_for_a_secret_named_literal_at_any_depth(mutate, path, name):
    values = helm_values()
    mutate(values)
    assert violations(RULE, HELM, {"values": values}, name="monitoring") == [
        f"Release 'monitoring': {path} sets {name} to a literal in Helm values. {HELM_FIX}"]


def test_helm_values_with_a_pulumi_secret_or_unknown_pass():
    values = helm_values()
    values["grafana"]["adminPassword"] = PolicySecret("fake-" + alnum(12))
    assert violations(RULE, HELM, {"values": values}) == []


def test_helm_values_unknown_is_a_literal_set_in_place():
    values = helm_values()
    values["grafana"]["adminPassword"] = UNKNOWN_STRING_VALUE
    assert len(violations(RULE, HELM, {"values": values})) == 1


TAG_FIX = ("Fix: tags are readable by anyone who can list resources or read the bill: keep the secret in Secrets "
           "Manager and tag with its name.")


def test_tags_compliant():
    props = {"bucket": "kingtavo-backups", "tags": {"kingtavo:plane": "backups", "rotation": "manual",
                                                    "credential-arn": "arn:aws:secretsmanager:eu-central-1:"
                                                                      "111122223333:secret:db-AbCdEf"}}
    assert violations(RULE, "aws:s3/bucket:Bucket", props) == []


@pytest.mark.parametrize("prop", ["tags", "tagsAll"])
def test_tags_fail_for_a_secret_named_tag(prop):
    props = {"bucket": "kingtavo-backups", prop: {"db-password": "fake-" + alnum(10)}}
    assert violations(RULE, "aws:s3/bucket:Bucket", props, name="backups") == [
        f"Bucket 'backups': {prop}.db-password sets db-password to a literal in a tag. {TAG_FIX}"]


def test_kubernetes_annotations_fail_for_a_secret_named_annotation():
    props = {"metadata": {"name": "etl", "annotations": {"example.com/api-token": "fake-" + alnum(10)}}}
    assert violations(RULE, "kubernetes:core/v1:Service", props, name="etl") == [
        "Service 'etl': metadata.annotations.example.com/api-token sets example.com/api-token to a literal in an "
        "annotation. Fix: annotations are not secret: reference a Secret instead."]


SSM = "aws:ssm/parameter:Parameter"
SSM_FIX = "Fix: set type='SecureString' (with a customer-managed key_id), or keep the secret in Secrets Manager."


def test_ssm_compliant():
    assert violations(RULE, SSM, {"name": "/kingtavo/etl/db-password", "type": "SecureString",
                                  "value": "fake-" + alnum(12)}) == []
    assert violations(RULE, SSM, {"name": "/kingtavo/etl/log-level", "type": "String", "value": "info"}) == []
    assert violations(RULE, SSM, {"name": "/kingtavo/etl/db-password", "type": UNKNOWN_STRING_VALUE,
                                  "value": "fake-" + alnum(12)}) == []


def test_ssm_fails_for_a_secret_named_string_parameter():
    props = {"name": "/kingtavo/etl/db-password", "type": "String", "value": "fake-" + alnum(12)}
    assert violations(RULE, SSM, props, name="db") == [
        f"Parameter 'db': parameter /kingtavo/etl/db-password looks secret but is type String, stored and shown in "
        f"plaintext. {SSM_FIX}"]


def test_ssm_fails_for_a_secret_inside_a_json_string_parameter():
    props = {"name": "/kingtavo/etl/config", "type": "String",
             "value": json.dumps({"database": {"host": "db", "password": "fake-" + alnum(12)}})}
    assert violations(RULE, SSM, props, name="config") == [
        f"Parameter 'config': value(json).database.password sets password to a literal in a String parameter. "
        f"{SSM_FIX}"]


def test_ssm_string_with_a_secret_shaped_value_is_the_generic_rule_s():
    props = {"name": "/kingtavo/etl/upstream", "type": "String", "value": SECRET_SHAPED["Stripe secret key"]()}
    assert violations(RULE, SSM, props) == []
    [message] = violations("no-secret-shaped-values", SSM, props, name="upstream")
    assert message.startswith("Parameter 'upstream': value holds a secret-shaped value (Stripe secret key)")


def test_vercel_deployment_environment():
    deployment = "vercel:index/deployment:Deployment"
    assert violations(RULE, deployment, {"ref": "v1", "environment": {"NEXT_PUBLIC_SITE_URL": "https://x.io",
                                                                       "LOG_LEVEL": "info"}}) == []
    props = {"ref": "v1", "environment": {"DATABASE_PASSWORD": "fake-" + alnum(12)}}
    assert violations(RULE, deployment, props, name="blue") == [
        "Deployment 'blue': environment.DATABASE_PASSWORD sets DATABASE_PASSWORD to a literal in the deployment's "
        "environment, readable by everyone on the team. Fix: use a sensitive ProjectEnvironmentVariable."]


def test_log_drain_headers():
    drain = "vercel:index/logDrain:LogDrain"
    assert violations(RULE, drain, {"endpoint": "https://logs.example.net", "headers": {"X-Source": "vercel"}}) == []
    props = {"endpoint": "https://logs.example.net", "headers": {"Authorization": "Basic " + alnum(20)}}
    assert violations(RULE, drain, props, name="drain") == [
        "LogDrain 'drain': headers.Authorization sets Authorization to a literal in a log-drain header, readable by "
        "everyone on the team. Fix: authenticate the drain with its `secret` (x-vercel-signature) instead."]


def test_ecs_container_definitions():
    task = "aws:ecs/taskDefinition:TaskDefinition"
    good = [{"name": "etl", "environment": [{"name": "LOG_LEVEL", "value": "info"}],
             "secrets": [{"name": "DB_PASSWORD", "valueFrom": "arn:aws:secretsmanager:eu-central-1:111122223333:"
                                                             "secret:db-AbCdEf"}]}]
    assert violations(RULE, task, {"containerDefinitions": json.dumps(good)}) == []
    bad = [{"name": "etl", "environment": [{"name": "DB_PASSWORD", "value": "fake-" + alnum(12)}]}]
    assert violations(RULE, task, {"containerDefinitions": json.dumps(bad)}, name="etl") == [
        "TaskDefinition 'etl': containerDefinitions(json)[0].environment[0].value sets DB_PASSWORD to a literal in "
        "a container definition's plain environment. Fix: use the container's `secrets` with valueFrom set to a "
        "Secrets Manager or SSM SecureString ARN."]


def test_eventbridge_target_input():
    target = "aws:cloudwatch/eventTarget:EventTarget"
    assert violations(RULE, target, {"arn": "arn:aws:lambda:eu-central-1:1:function:f",
                                     "input": json.dumps({"stack": "staging"})}) == []
    props = {"arn": "arn:aws:lambda:eu-central-1:1:function:f", "input": json.dumps({"apiToken": "fake-" + alnum(9)})}
    assert violations(RULE, target, props, name="monitor") == [
        "EventTarget 'monitor': input(json).apiToken sets apiToken to a literal in an EventBridge target's input, "
        "stored and logged in the clear. Fix: pass the secret's ARN and let the target read it, or use an "
        "EventBridge connection for API credentials."]


def test_launch_template_user_data():
    template = "aws:ec2/launchTemplate:LaunchTemplate"
    good = "#!/bin/sh\nexport DB_PASSWORD=$(aws secretsmanager get-secret-value --secret-id db)\n"
    assert violations(RULE, template, {"userData": base64.b64encode(good.encode()).decode()}) == []
    bad = "#!/bin/sh\nexport DB_PASSWORD=fake-" + alnum(12) + "\n"
    assert violations(RULE, template, {"userData": base64.b64encode(bad.encode()).decode()}, name="nodes") == [
        "LaunchTemplate 'nodes': userData(base64)(line 2) sets DB_PASSWORD to a literal in user data, readable "
        "through the instance metadata and the console. Fix: fetch the secret at boot from Secrets Manager with the "
        "instance role."]
