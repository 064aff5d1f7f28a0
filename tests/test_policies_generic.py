"""The generic rule (`no-secret-shaped-values`): every string of every resource, outside fields made for secrets."""

from __future__ import annotations

import base64
import json
import secrets

import pytest
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE
from pulumi_policy.secret import Secret as PolicySecret

from tests.support.policy_fixtures import (
    DEPLOYMENT,
    PEV,
    SECRET_SHAPED,
    anon_jwt,
    padded_jwt,
    pem_private_key,
    sentry_dsn,
    service_role_jwt,
    vercel_var,
    violations,
)

# --- secret-shaped values anywhere else -------------------------------------------------------------------

GENERIC_FIX = ("Fix: revoke it, then pass the secret as a Pulumi secret into a field made for secrets (a Secrets "
               "Manager secret, a Kubernetes Secret, a sensitive Vercel variable) and reference that instead.")


def test_secret_shaped_values_compliant_resource():
    props = {"description": "Kingtavo staging: logs", "enableKeyRotation": True, "tags": {"team": "platform"},
             "policy": json.dumps({"Statement": [{"Principal": {"AWS": "arn:aws:iam::111122223333:root"}}]})}
    assert violations("no-secret-shaped-values", "aws:kms/key:Key", props) == []


def test_secret_shaped_values_fail_in_tags():
    props = {"bucket": "kingtavo-backups", "tags": {"owner": SECRET_SHAPED["AWS access key id"]()}}
    assert violations("no-secret-shaped-values", "aws:s3/bucket:Bucket", props, name="backups") == [
        f"Bucket 'backups': tags.owner holds a secret-shaped value (AWS access key id) in plain configuration. "
        f"{GENERIC_FIX}"]


def test_secret_shaped_values_fail_in_descriptions():
    props = {"name": "etl", "description": "key " + SECRET_SHAPED["Stripe secret key"]()}
    assert violations("no-secret-shaped-values", "aws:iam/role:Role", props, name="etl-role") == [
        f"Role 'etl-role': description holds a secret-shaped value (Stripe secret key) in plain configuration. "
        f"{GENERIC_FIX}"]


def test_secret_shaped_values_fail_in_helm_values():
    values = {"alertmanager": {"config": {"receivers": [{"slack_configs": [
        {"api_url": SECRET_SHAPED["Slack webhook URL"]()}]}]}}}
    assert violations("no-secret-shaped-values", "kubernetes:helm.sh/v3:Release", {"values": values},
                      name="prometheus") == [
        "Release 'prometheus': values.alertmanager.config.receivers[0].slack_configs[0].api_url holds a secret-shaped "
        f"value (Slack webhook URL) in plain configuration. {GENERIC_FIX}"]


def test_secret_shaped_values_fail_inside_a_json_document():
    policy = json.dumps({"Statement": [{"Sid": SECRET_SHAPED["GitHub token"]()}]})
    [message] = violations("no-secret-shaped-values", "aws:iam/rolePolicy:RolePolicy", {"policy": policy})
    assert message.startswith("RolePolicy 'subject': policy(json).Statement[0].Sid holds a secret-shaped value "
                              "(GitHub token)")


@pytest.mark.parametrize(("type_token", "props"), [
    ("aws:secretsmanager/secretVersion:SecretVersion", {"secretId": "s", "secretString": service_role_jwt()}),
    ("kubernetes:core/v1:Secret", {"stringData": {"key": pem_private_key()}, "metadata": {"name": "tls"}}),
    (PEV, vercel_var("STRIPE_SECRET_KEY", SECRET_SHAPED["Stripe secret key"]())),
    ("pulumi-python:dynamic:Resource", {"secrets": {"OPENAI_API_KEY": "sk-" + secrets.token_hex(24)}}),
    ("pulumi-python:dynamic/supabase:EdgeFunctionSecrets", {"access_token": SECRET_SHAPED["Supabase access token"](),
                                                            "secrets": {"K": SECRET_SHAPED["Stripe secret key"]()}}),
    ("pulumi:providers:vercel", {"apiToken": SECRET_SHAPED["GitHub token"]()}),
    ("pulumi:providers:kubernetes", {"kubeconfig": "token: " + service_role_jwt()}),
    ("vercel:index/logDrain:LogDrain", {"secret": SECRET_SHAPED["Stripe secret key"](), "endpoint": "https://x.io"}),
    ("aws:sns/topicSubscription:TopicSubscription", {"protocol": "https",
                                                     "endpoint": SECRET_SHAPED["PagerDuty integration URL"]()}),
], ids=["secretsmanager-secret-string", "kubernetes-secret", "sensitive-vercel-value", "dynamic-secrets",
        "named-dynamic-resource-credentials", "provider-credentials", "provider-kubeconfig", "log-drain-secret",
        "sns-https-endpoint"])
def test_fields_made_for_secrets_may_hold_them(type_token, props):
    assert violations("no-secret-shaped-values", type_token, props) == []


@pytest.mark.parametrize("value", [anon_jwt(), sentry_dsn(), "postgresql://<user>:<password>@<host>:5432/postgres",
                                   "arn:aws:kms:eu-central-1:111122223333:alias/kingtavo", UNKNOWN_STRING_VALUE],
                         ids=["anon-jwt", "sentry-dsn", "url-placeholders", "arn", "unknown"])
def test_secret_shaped_values_allowed_look_alikes(value):
    assert violations("no-secret-shaped-values", "aws:iam/role:Role", {"description": value, "tags": {"v": value}}) \
        == []


def test_providers_and_dynamic_resources_are_judged_outside_their_credential_fields():
    leak = SECRET_SHAPED["AWS access key id"]()
    [message] = violations("no-secret-shaped-values", "pulumi-python:dynamic/supabase:EdgeFunctionSecrets",
                           {"project_ref": leak, "access_token": "fake"}, name="edge")
    assert message.startswith("EdgeFunctionSecrets 'edge': project_ref holds a secret-shaped value (AWS access key id)")
    [message] = violations("no-secret-shaped-values", "pulumi:providers:aws", {"region": leak}, name="aws")
    assert message.startswith("aws 'aws': region holds a secret-shaped value")


def test_a_pagerduty_url_outside_its_subscription_is_a_violation():
    values = {"alertmanager": {"url": SECRET_SHAPED["PagerDuty integration URL"]()}}
    [message] = violations("no-secret-shaped-values", "kubernetes:helm.sh/v3:Release", {"values": values})
    assert "values.alertmanager.url holds a secret-shaped value (PagerDuty integration URL)" in message


# --- encodings, keys, split credentials, Pulumi secrets (issue 17) -----------------------------------------


def generic(type_token: str, props: dict, name: str = "subject") -> list[str]:
    return violations("no-secret-shaped-values", type_token, props, name=name)


def test_a_whole_base64_value_is_decoded():
    token = SECRET_SHAPED["GitHub token"]()
    props = {"description": base64.b64encode(f"deploy {token}".encode()).decode()}
    assert generic("aws:iam/role:Role", props, name="r") == [
        f"Role 'r': description(base64) holds a secret-shaped value (GitHub token) in plain configuration. "
        f"{GENERIC_FIX}"]


def test_a_jwt_with_base64_padding_is_found():
    props = {"tags": {"note": padded_jwt("service_role")}}
    assert generic("aws:s3/bucket:Bucket", props, name="b") == [
        f"Bucket 'b': tags.note holds a secret-shaped value (Supabase service_role JWT) in plain configuration. "
        f"{GENERIC_FIX}"]


def test_a_secret_shaped_map_key_is_reported_without_printing_it():
    key = SECRET_SHAPED["AWS access key id"]()
    [message] = generic("aws:s3/bucket:Bucket", {"tags": {key: "owner"}}, name="b")
    assert message == (f"Bucket 'b': a key of tags holds a secret-shaped value (AWS access key id) in plain "
                       f"configuration. {GENERIC_FIX}")
    assert key not in message


def test_an_access_key_id_and_its_secret_split_across_two_keys():
    data = {"id": SECRET_SHAPED["AWS access key id"](), "other": secrets.token_urlsafe(30)[:40].replace("-", "a")
            .replace("_", "b")}
    assert generic("aws:iam/role:Role", {"tags": data}, name="r") == [
        f"Role 'r': tags.id holds a secret-shaped value (AWS access key id) in plain configuration. {GENERIC_FIX}",
        f"Role 'r': tags.other holds a secret-shaped value (AWS secret access key, next to its access key id) in "
        f"plain configuration. {GENERIC_FIX}"]


@pytest.mark.parametrize(("kind", "value"), [
    ("credential in `password=`",
     "host=db port=5432 user=etl " + "pass" + "word=s3cr" + secrets.token_hex(4) + " dbname=etl"),
    ("credential in `token=`", "https://api.example.net/feed?" + "to" + "ken=abc123def456ghi&page=1"),
    ("credential in `api_key=`", "https://maps.example.net/x?" + "api" + "_key=abc123def456ghi"),
], ids=["libpq-keyword-string", "query-token", "query-api-key"])
def test_credentials_in_conninfo_and_query_strings(kind, value):
    assert generic("aws:cloudwatch/eventTarget:EventTarget", {"input": value}, name="t") == [
        f"EventTarget 't': input holds a secret-shaped value ({kind}) in plain configuration. {GENERIC_FIX}"]


@pytest.mark.parametrize(("type_token", "props", "path"), [
    ("aws:ecs/taskDefinition:TaskDefinition", lambda v: {"containerDefinitions": json.dumps(
        [{"name": "etl", "environment": [{"name": "UPSTREAM", "value": v}]}])},
     "containerDefinitions(json)[0].environment[0].value"),
    ("aws:ec2/launchTemplate:LaunchTemplate", lambda v: {"userData": base64.b64encode(
        f"#!/bin/sh\ncurl -H 'x: {v}' https://x\n".encode()).decode()}, "userData(base64)"),
    (DEPLOYMENT, lambda v: {"spec": {"template": {"spec": {"containers": [{"name": "etl", "args": ["--key", v]}]}}}},
     "spec.template.spec.containers[0].args[1]"),
    ("vercel:index/deployment:Deployment", lambda v: {"environment": {"UPSTREAM": v}}, "environment.UPSTREAM"),
    ("vercel:index/logDrain:LogDrain", lambda v: {"headers": {"X-Upstream": v}}, "headers.X-Upstream"),
    ("aws:ssm/parameter:Parameter", lambda v: {"type": "String", "value": v}, "value"),
], ids=["ecs-container-definitions", "launch-template-user-data", "container-args", "vercel-deployment-environment",
        "log-drain-headers", "ssm-string"])
def test_sinks_the_pack_used_to_skip(type_token, props, path):
    value = SECRET_SHAPED["Stripe secret key"]()
    [message] = generic(type_token, props(value), name="s")
    assert message.startswith(f"{type_token.rsplit(':', 1)[-1]} 's': {path} holds a secret-shaped value "
                              "(Stripe secret key)")
    assert value not in message


def test_an_ssm_secure_string_may_hold_a_secret():
    props = {"type": "SecureString", "value": SECRET_SHAPED["Stripe secret key"]()}
    assert generic("aws:ssm/parameter:Parameter", props) == []


def test_a_value_the_sdk_marks_as_a_pulumi_secret_is_fine():
    props = {"description": PolicySecret(SECRET_SHAPED["Stripe secret key"]())}
    assert generic("aws:iam/role:Role", props) == []
