"""The corpus: leak shapes across every resource type the stacks declare, and look-alikes that must pass.

Each leak is one fresh fake value (or a secret-named literal) placed where the stacks' resource types take
strings: tags and tag keys, descriptions, JSON policies, env values, args, files in ConfigMaps, Helm values,
Vercel variables and deployments, dynamic resources, providers; some wrapped in base64. The whole pack runs
through the offline gate (`tools.policy_gate.evaluate`), as on a planned stack. A leak must fail with a
mandatory violation whose messages never contain the value; a look-alike must raise nothing about secrets.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable

import pytest

from tests.support.policy_fixtures import MORE_SHAPED, SECRET_SHAPED, alnum, anon_jwt, padded_jwt, sentry_dsn
from tools.harness import PlannedResource
from tools.policy_gate import evaluate, load_pack_config

CONTENT_RULES = {"vercel-secret-env-sensitive", "vercel-secret-env-not-development", "vercel-public-env-no-secrets",
                 "kubernetes-secret-env-from-secret-ref", "kubernetes-configmap-no-secrets", "no-secret-shaped-values",
                 "lambda-environment-no-secrets", "plaintext-sinks-no-secret-literals"}
KINDS = sorted({**SECRET_SHAPED, **MORE_SHAPED})
SHAPES: dict[str, Callable[[], str]] = {**SECRET_SHAPED, **MORE_SHAPED}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def pod(container: dict) -> dict:
    return {"spec": {"template": {"spec": {"containers": [{"name": "etl", "image": "r/etl:1", **container}]}}}}


# (resource type, where, props holding the value v)
PLACES: list[tuple[str, str, Callable[[str], dict]]] = [
    ("aws:s3/bucket:Bucket", "tag value", lambda v: {"tags": {"owner": v}}),
    ("aws:s3/bucket:Bucket", "tag key", lambda v: {"tags": {v: "owner"}}),
    ("aws:iam/role:Role", "description", lambda v: {"description": v}),
    ("aws:iam/role:Role", "trust policy JSON", lambda v: {"assumeRolePolicy": json.dumps({"Statement": [
        {"Sid": v, "Effect": "Allow"}]})}),
    ("aws:iam/rolePolicy:RolePolicy", "policy JSON", lambda v: {"policy": json.dumps({"Statement": [
        {"Condition": {"StringEquals": {"x": v}}}]})}),
    ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "policyArn", lambda v: {"policyArn": v}),
    ("aws:kms/key:Key", "description", lambda v: {"enableKeyRotation": True, "description": v}),
    ("aws:kms/alias:Alias", "name", lambda v: {"name": "alias/" + v}),
    ("aws:secretsmanager/secret:Secret", "description", lambda v: {"description": v}),
    ("aws:secretsmanager/secretPolicy:SecretPolicy", "policy JSON", lambda v: {"policy": json.dumps({"Id": v})}),
    ("aws:secretsmanager/secretRotation:SecretRotation", "rotationLambdaArn", lambda v: {"rotationLambdaArn": v}),
    ("aws:cloudwatch/metricAlarm:MetricAlarm", "alarmDescription", lambda v: {"alarmDescription": v}),
    ("aws:cloudwatch/logGroup:LogGroup", "tags", lambda v: {"tags": {"note": v}}),
    ("aws:cloudwatch/eventRule:EventRule", "eventPattern JSON", lambda v: {"eventPattern": json.dumps({"x": [v]})}),
    ("aws:cloudwatch/eventTarget:EventTarget", "input JSON", lambda v: {"input": json.dumps({"k": v})}),
    ("aws:lambda/function:Function", "environment", lambda v: {"environment": {"variables": {"UPSTREAM": v}}}),
    ("aws:lambda/function:Function", "description", lambda v: {"description": v}),
    ("aws:lambda/permission:Permission", "statementId", lambda v: {"statementId": v}),
    ("aws:lambda/functionUrl:FunctionUrl", "cors", lambda v: {"cors": {"allowHeaders": [v]}}),
    ("aws:sns/topic:Topic", "displayName", lambda v: {"displayName": v}),
    ("aws:sns/topicPolicy:TopicPolicy", "policy JSON", lambda v: {"policy": json.dumps({"Sid": v})}),
    ("aws:sns/topicSubscription:TopicSubscription", "deliveryPolicy", lambda v: {"deliveryPolicy": json.dumps(
        {"note": v})}),
    ("aws:ec2/vpc:Vpc", "tags", lambda v: {"tags": {"Name": v}}),
    ("aws:ec2/subnet:Subnet", "tags (base64)", lambda v: {"tags": {"note": b64(v)}}),
    ("aws:ec2/securityGroup:SecurityGroup", "description", lambda v: {"description": v}),
    ("aws:ec2/flowLog:FlowLog", "tags", lambda v: {"tags": {"x": v}}),
    ("aws:ec2/natGateway:NatGateway", "tags", lambda v: {"tags": {"x": v}}),
    ("aws:eks/cluster:Cluster", "tags", lambda v: {"tags": {"x": v}}),
    ("aws:eks/nodeGroup:NodeGroup", "labels", lambda v: {"labels": {"x": v}}),
    ("aws:ecr/repository:Repository", "tags", lambda v: {"tags": {"x": v}}),
    ("aws:ecr/lifecyclePolicy:LifecyclePolicy", "policy JSON", lambda v: {"policy": json.dumps({"d": v})}),
    ("aws:ecr/repositoryPolicy:RepositoryPolicy", "policy JSON (base64)", lambda v: {"policy": b64(json.dumps(
        {"d": v}))}),
    ("aws:s3/bucketPolicy:BucketPolicy", "policy JSON", lambda v: {"policy": json.dumps({"Sid": v})}),
    ("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "rule id", lambda v: {"rules": [
        {"id": v}]}),
    ("aws:chatbot/slackChannelConfiguration:SlackChannelConfiguration", "channel name", lambda v: {
        "configurationName": v}),
    ("aws:iam/openIdConnectProvider:OpenIdConnectProvider", "clientIdLists", lambda v: {"clientIdLists": [v]}),
    ("aws:ssm/parameter:Parameter", "String value", lambda v: {"type": "String", "value": v}),
    ("aws:ecs/taskDefinition:TaskDefinition", "container definition JSON", lambda v: {"containerDefinitions":
        json.dumps([{"name": "etl", "environment": [{"name": "UPSTREAM", "value": v}]}])}),
    ("aws:ec2/launchTemplate:LaunchTemplate", "userData", lambda v: {"userData": b64(f"#!/bin/sh\necho '{v}'\n")}),
    ("kubernetes:apps/v1:Deployment", "env value", lambda v: pod({"env": [{"name": "UPSTREAM", "value": v}]})),
    ("kubernetes:apps/v1:Deployment", "args", lambda v: pod({"args": ["--upstream", v]})),
    ("kubernetes:batch/v1:CronJob", "command", lambda v: {"spec": {"jobTemplate": {"spec": {"template": {"spec": {
        "containers": [{"name": "dump", "command": ["sh", "-c", f"curl -H 'x: {v}' https://x"]}]}}}}}}),
    ("kubernetes:apps/v1:Deployment", "probe header", lambda v: pod({"livenessProbe": {"httpGet": {
        "httpHeaders": [{"name": "X-Check", "value": v}]}}})),
    ("kubernetes:core/v1:ConfigMap", "data", lambda v: {"data": {"UPSTREAM": v}}),
    ("kubernetes:core/v1:ConfigMap", "binaryData", lambda v: {"binaryData": {"blob": b64(v)}}),
    ("kubernetes:core/v1:ConfigMap", "YAML file", lambda v: {"data": {"app.yaml": f"upstream:\n  header: {v}\n"}}),
    ("kubernetes:core/v1:Namespace", "label", lambda v: {"metadata": {"labels": {"x": v}}}),
    ("kubernetes:core/v1:Service", "annotation", lambda v: {"metadata": {"annotations": {"x": v}}}),
    ("kubernetes:core/v1:ServiceAccount", "annotation", lambda v: {"metadata": {"annotations": {"x": v}}}),
    ("kubernetes:policy/v1:PodDisruptionBudget", "annotation", lambda v: {"metadata": {"annotations": {"x": v}}}),
    ("kubernetes:monitoring.coreos.com/v1:PrometheusRule", "rule annotation", lambda v: {"spec": {"groups": [
        {"rules": [{"annotations": {"description": v}}]}]}}),
    ("kubernetes:monitoring.coreos.com/v1:PodMonitor", "endpoint params", lambda v: {"spec": {
        "podMetricsEndpoints": [{"params": {"q": [v]}}]}}),
    ("kubernetes:external-secrets.io/v1:ExternalSecret", "annotation", lambda v: {"metadata": {"annotations": {
        "note": v}}}),
    ("kubernetes:external-secrets.io/v1:SecretStore", "provider field", lambda v: {"spec": {"provider": {"aws": {
        "region": v}}}}),
    ("kubernetes:helm.sh/v3:Release", "Helm values", lambda v: {"values": {"grafana": {"env": {"UPSTREAM": v}}}}),
    ("kubernetes:argoproj.io/v1alpha1:Rollout", "env value", lambda v: pod({"env": [{"name": "UP", "value": v}]})),
    ("vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable", "NEXT_PUBLIC_ value", lambda v: {
        "key": "NEXT_PUBLIC_ANALYTICS_ID", "value": v, "sensitive": False, "targets": ["production"]}),
    ("vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable", "non-sensitive value", lambda v: {
        "key": "UPSTREAM", "value": v, "sensitive": False, "targets": ["production"]}),
    ("vercel:index/project:Project", "inline environments", lambda v: {"environments": [
        {"key": "UPSTREAM", "value": v, "target": ["production"]}]}),
    ("vercel:index/deployment:Deployment", "environment", lambda v: {"environment": {"UPSTREAM": v}}),
    ("vercel:index/deployment:Deployment", "meta", lambda v: {"meta": {"note": v}}),
    ("vercel:index/logDrain:LogDrain", "header", lambda v: {"headers": {"X-Upstream": v}}),
    ("vercel:index/webhook:Webhook", "endpoint", lambda v: {"endpoint": "https://hooks.example.net/in?x=" + v}),
    ("vercel:index/projectDomain:ProjectDomain", "redirect", lambda v: {"redirect": v}),
    ("vercel:index/customAlertRule:CustomAlertRule", "name", lambda v: {"name": v}),
    ("sentry:index/sentryProject:SentryProject", "name", lambda v: {"name": v}),
    ("sentry:index/sentryIssueAlert:SentryIssueAlert", "actions JSON", lambda v: {"actionsV2": [{"note": v}]}),
    ("sentry:index/sentryKey:SentryKey", "name", lambda v: {"name": v}),
    ("pulumi-python:dynamic/supabase:EdgeFunctionSecrets", "project_ref", lambda v: {"project_ref": v}),
    ("pulumi:providers:kubernetes", "namespace", lambda v: {"namespace": v}),
    ("random:index/randomPassword:RandomPassword", "keepers", lambda v: {"keepers": {"x": v}}),
]
SHAPE_LEAKS = [pytest.param(type_token, build, kind, id=f"{where}@{type_token}:{kind}")
               for i, (type_token, where, build) in enumerate(PLACES) for kind in [KINDS[i % len(KINDS)]]]


def lit() -> str:
    return "fake-" + alnum(14)


# secret-named literals in sinks: (type, id, props for the literal v)
NAMED_LEAKS: list[tuple[str, str, Callable[[str], dict]]] = [
    ("aws:s3/bucket:Bucket", "tag db-password", lambda v: {"tags": {"db-password": v}}),
    ("kubernetes:helm.sh/v3:Release", "Helm adminPassword", lambda v: {"values": {"grafana": {"adminPassword": v}}}),
    ("kubernetes:helm.sh/v3:Release", "Helm routing_key", lambda v: {"values": {"am": {"receivers": [
        {"pagerduty_configs": [{"routing_key": v}]}]}}}),
    ("kubernetes:helm.sh/v3:Release", "Helm basic_auth.password", lambda v: {"values": {"scrape": [
        {"basic_auth": {"username": "u", "password": v}}]}}),
    ("aws:ssm/parameter:Parameter", "SSM /x/db-pass String", lambda v: {"name": "/x/db-pass", "type": "String",
                                                                        "value": v}),
    ("kubernetes:apps/v1:Deployment", "env DB_PASS", lambda v: pod({"env": [{"name": "DB_PASS", "value": v}]})),
    ("kubernetes:apps/v1:Deployment", "args --password", lambda v: pod({"args": ["--password", v]})),
    ("kubernetes:apps/v1:Deployment", "probe Authorization", lambda v: pod({"readinessProbe": {"httpGet": {
        "httpHeaders": [{"name": "Authorization", "value": v}]}}})),
    ("aws:lambda/function:Function", "env MYSQL_PWD", lambda v: {"environment": {"variables": {"MYSQL_PWD": v}}}),
    ("kubernetes:core/v1:ConfigMap", "data PGPASSWORD", lambda v: {"data": {"PGPASSWORD": v}}),
    ("kubernetes:core/v1:ConfigMap", "properties db.password", lambda v: {"data": {
        "app.properties": f"db.url=jdbc:x\ndb.password={v}\n"}}),
    ("vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable", "GITHUB_PAT not sensitive",
     lambda v: {"key": "GITHUB_PAT", "value": v, "sensitive": False, "targets": ["production"]}),
    ("vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable", "NEXT_PUBLIC_STRIPE_SECRET_KEY",
     lambda v: {"key": "NEXT_PUBLIC_STRIPE_SECRET_KEY", "value": v, "sensitive": False, "targets": ["preview"]}),
    ("vercel:index/deployment:Deployment", "environment GOOGLE_CREDENTIALS", lambda v: {"environment": {
        "GOOGLE_CREDENTIALS": v}}),
    ("vercel:index/logDrain:LogDrain", "header Authorization", lambda v: {"headers": {"Authorization": v}}),
    ("aws:ecs/taskDefinition:TaskDefinition", "ECS DB_PASSWORD", lambda v: {"containerDefinitions": json.dumps(
        [{"name": "etl", "environment": [{"name": "DB_PASSWORD", "value": v}]}])}),
    ("aws:cloudwatch/eventTarget:EventTarget", "EventBridge apiToken", lambda v: {"input": json.dumps(
        {"apiToken": v})}),
    ("aws:ec2/launchTemplate:LaunchTemplate", "user data export", lambda v: {"userData": b64(
        f"#!/bin/sh\nexport SMTP_PASS={v}\n")}),
    ("vercel:index/project:Project", "inline DB_PASS", lambda v: {"environments": [
        {"key": "DB_PASS", "value": v, "target": ["production"]}]}),
    ("kubernetes:core/v1:Service", "annotation api-token", lambda v: {"metadata": {"annotations": {
        "x.io/api-token": v}}}),
]


def judge(type_token: str, props: dict) -> list:
    urn = f"urn:pulumi:staging::kingtavo::{type_token}::corpus"
    resource = PlannedResource(type=type_token, name="corpus", urn=urn, inputs=props, raw_inputs=props, parent=None,
                               provider="", protect=False, custom=True)
    return [v for v in evaluate([resource], load_pack_config()) if v.policy_name in CONTENT_RULES]


def test_the_corpus_is_as_large_as_promised():
    assert len(SHAPE_LEAKS) + len(NAMED_LEAKS) >= 80
    assert len(LOOK_ALIKES) >= 50
    assert {kind for _, _, kind in (p.values for p in SHAPE_LEAKS)} == set(KINDS)  # every shape is placed


@pytest.mark.parametrize(("type_token", "build", "kind"), SHAPE_LEAKS)
def test_a_secret_shaped_leak_fails_and_is_never_printed(type_token, build, kind):
    value = SHAPES[kind]()
    found = judge(type_token, build(value))
    assert found and all(v.mandatory for v in found), f"{kind} not caught"
    assert not any(value in v.message or value in v.urn for v in found)


@pytest.mark.parametrize(("type_token", "build"), [pytest.param(t, b, id=f"{w}@{t}") for t, w, b in NAMED_LEAKS])
def test_a_secret_named_literal_in_a_sink_fails_and_is_never_printed(type_token, build):
    value = lit()
    found = judge(type_token, build(value))
    assert found and all(v.mandatory for v in found)
    assert not any(value in v.message for v in found)


GIT_SHA = secrets.token_hex(20)
LOOK_ALIKES: list[tuple[str, str, dict]] = [
    ("anon JWT in NEXT_PUBLIC_", "vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable",
     {"key": "NEXT_PUBLIC_SUPABASE_ANON_KEY", "value": anon_jwt(), "sensitive": False, "targets": ["development"]}),
    ("padded anon JWT in a ConfigMap", "kubernetes:core/v1:ConfigMap", {"data": {"SUPABASE_ANON_KEY": padded_jwt(
        "anon")}}),
    ("Stripe publishable key", "vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable",
     {"key": "NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY", "value": "pk_" + "live_" + alnum(24), "sensitive": False,
      "targets": ["production"]}),
    ("reCAPTCHA site key", "vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable",
     {"key": "NEXT_PUBLIC_RECAPTCHA_SITE_KEY", "value": "6L" + alnum(38), "sensitive": False,
      "targets": ["production"]}),
    ("PostHog project key", "vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable",
     {"key": "NEXT_PUBLIC_POSTHOG_KEY", "value": "ph" + "c_" + alnum(40), "sensitive": False,
      "targets": ["production"]}),
    ("Supabase publishable key", "vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable",
     {"key": "NEXT_PUBLIC_SUPABASE_PUBLISHABLE_KEY", "value": "sb_" + "publishable_" + alnum(24),
      "sensitive": False, "targets": ["production"]}),
    ("auth URL", "vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable",
     {"key": "NEXT_PUBLIC_AUTH_URL", "value": "https://auth.kingtavo.com", "sensitive": False,
      "targets": ["production"]}),
    ("Sentry DSN in Lambda env", "aws:lambda/function:Function", {"environment": {"variables": {
        "SENTRY_DSN": sentry_dsn()}}}),
    ("Sentry DSN in a tag", "aws:s3/bucket:Bucket", {"tags": {"dsn": sentry_dsn()}}),
    ("ARN of a secret in env", "kubernetes:apps/v1:Deployment", pod({"env": [{"name": "DB_SECRET", "value":
        "arn:aws:secretsmanager:eu-central-1:111122223333:secret:db-AbCdEf"}]})),
    ("secretKeyRef", "kubernetes:apps/v1:Deployment", pod({"env": [{"name": "PGPASSWORD", "valueFrom": {
        "secretKeyRef": {"name": "etl", "key": "password"}}}]})),
    ("args with $(VAR)", "kubernetes:apps/v1:Deployment", pod({"args": ["--db-password=$(PGPASSWORD)"]})),
    ("args with a token file", "kubernetes:apps/v1:Deployment", pod({"args": ["--token-file", "/run/secrets/t"]})),
    ("UUID", "aws:iam/role:Role", {"description": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"}),
    ("git SHA", "vercel:index/deployment:Deployment", {"ref": GIT_SHA}),
    ("image digest", "kubernetes:apps/v1:Deployment", pod({"image": "r/etl@sha256:" + secrets.token_hex(32)})),
    ("URL without a password", "vercel:index/logDrain:LogDrain", {"endpoint": "https://logs.kingtavo.com/v"}),
    ("smtp URL with a user only", "aws:lambda/function:Function", {"environment": {"variables": {
        "SMTP_URL": "smtp://mail.example.net?from=ops@example.net"}}}),
    ("smtp URL with a port", "aws:iam/role:Role", {"description": "smtp://mail.example.net:587?from=a@b.io"}),
    ("postgres URL without password", "kubernetes:core/v1:ConfigMap", {"data": {
        "DATABASE_URL": "postgresql://etl@db:5432/etl?sslmode=require"}}),
    ("URL with a placeholder password", "kubernetes:core/v1:ConfigMap", {"data": {
        "DSN": "postgresql://<user>:<password>@<host>:5432/postgres"}}),
    ("conninfo without password", "aws:ssm/parameter:Parameter", {"name": "/x/dsn", "type": "String",
                                                                  "value": "host=db port=5432 user=etl dbname=x"}),
    ("conninfo with a variable", "kubernetes:core/v1:ConfigMap", {"data": {"PGCONN": "host=db password=${PGPASS}"}}),
    ("query string without tokens", "vercel:index/webhook:Webhook", {"endpoint": "https://x.io/in?page=2&sort=asc"}),
    ("token limit setting", "aws:lambda/function:Function", {"environment": {"variables": {
        "OPENAI_TOKEN_LIMIT": "4000"}}}),
    ("rotation days setting", "kubernetes:core/v1:ConfigMap", {"data": {"KEY_ROTATION_DAYS": "30"}}),
    ("password policy", "kubernetes:apps/v1:Deployment", pod({"env": [{"name": "PASSWORD_POLICY", "value":
        "strict"}]})),
    ("private beta flag", "vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable",
     {"key": "PRIVATE_BETA", "value": "true", "sensitive": False, "targets": ["development"]}),
    ("existingSecret in Helm", "kubernetes:helm.sh/v3:Release", {"values": {"grafana": {"admin": {
        "existingSecret": "grafana-admin", "passwordKey": "admin-password", "userKey": "admin-user"}}}}),
    ("password_file in Helm", "kubernetes:helm.sh/v3:Release", {"values": {"scrape": [{"basic_auth": {
        "password_file": "/etc/prometheus/secrets/s/key"}}]}}),
    ("secrets list in Helm", "kubernetes:helm.sh/v3:Release", {"values": {"alertmanagerSpec": {
        "secrets": ["alertmanager-receivers"]}}}),
    ("Helm template", "kubernetes:helm.sh/v3:Release", {"values": {"config": {"password": "{{ .Values.pw }}"}}}),
    ("AWS documentation key", "aws:iam/role:Role", {"description": "AK" + "IA" + "IOSFODNN7" + "EXAMPLE"}),
    ("placeholder set-me", "kubernetes:core/v1:ConfigMap", {"data": {"API_TOKEN": "<set-me>"}}),
    ("changeme in a tag", "aws:s3/bucket:Bucket", {"tags": {"db-password": "changeme"}}),
    ("base64 of plain text", "aws:ec2/launchTemplate:LaunchTemplate", {"userData": b64(
        "#!/bin/sh\necho hello\nexport LOG_LEVEL=info\n")}),
    ("user data reading Secrets Manager", "aws:ec2/launchTemplate:LaunchTemplate", {"userData": b64(
        "#!/bin/sh\nexport DB_PASSWORD=$(aws secretsmanager get-secret-value --secret-id db)\n")}),
    ("JSON policy", "aws:iam/rolePolicy:RolePolicy", {"policy": json.dumps({"Statement": [
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "arn:aws:secretsmanager:*"}]})}),
    ("ECS secrets by ARN", "aws:ecs/taskDefinition:TaskDefinition", {"containerDefinitions": json.dumps([{
        "name": "etl", "secrets": [{"name": "DB_PASSWORD", "valueFrom": "arn:aws:ssm:eu-central-1:1:parameter/x"}]}])}),
    ("SSM SecureString", "aws:ssm/parameter:Parameter", {"name": "/x/db-password", "type": "SecureString",
                                                         "value": SECRET_SHAPED["Stripe secret key"]()}),
    ("Secrets Manager value", "aws:secretsmanager/secretVersion:SecretVersion", {
        "secretString": SECRET_SHAPED["Supabase service_role JWT"]()}),
    ("Kubernetes Secret", "kubernetes:core/v1:Secret", {"stringData": {"key": SECRET_SHAPED["PEM private key"]()}}),
    ("sensitive Vercel variable", "vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable", {
        "key": "STRIPE_SECRET_KEY", "value": SECRET_SHAPED["Stripe secret key"](), "sensitive": True,
        "targets": ["production"]}),
    ("log drain signing secret", "vercel:index/logDrain:LogDrain", {"secret": alnum(32)}),
    ("PagerDuty URL as the subscription endpoint", "aws:sns/topicSubscription:TopicSubscription", {
        "endpoint": SECRET_SHAPED["PagerDuty integration URL"](), "protocol": "https"}),
    ("dynamic resource credential", "pulumi-python:dynamic/supabase:EdgeFunctionSecrets", {
        "access_token": SECRET_SHAPED["Supabase access token"](), "project_ref": "abcdefghijklmnopqrst"}),
    ("provider token", "pulumi:providers:sentry", {"token": SECRET_SHAPED["Sentry auth token"]()}),
    ("KMS key ARN", "aws:secretsmanager/secret:Secret", {"kmsKeyId": "arn:aws:kms:eu-central-1:111122223333:key/"
                                                                      "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"}),
    ("short hex id", "aws:s3/bucket:Bucket", {"tags": {"build": secrets.token_hex(8)}}),
    ("Vercel project id", "vercel:index/deployment:Deployment", {"projectId": "prj_" + alnum(28)}),
    ("Grafana dashboard JSON", "kubernetes:core/v1:ConfigMap", {"data": {"etl.json": json.dumps({
        "title": "ETL", "panels": [{"targets": [{"expr": "sum(rate(http_requests_total{code=~\"5..\"}[5m]))"}]}]})}}),
    ("alertmanager matchers", "kubernetes:helm.sh/v3:Release", {"values": {"route": {
        "matchers": ["severity=\"critical\"", "alertname=\"Watchdog\""]}}}),
    ("upload script with key=$(...)", "kubernetes:core/v1:ConfigMap", {"data": {
        "upload.sh": "set -eu\nkey=$(cat /dump/key)\n"}}),
    ("token endpoint URL", "aws:lambda/function:Function", {"environment": {"variables": {
        "TOKEN_URL": "https://auth.example.net/oauth/token"}}}),
]


@pytest.mark.parametrize(("type_token", "props"), [pytest.param(t, p, id=i) for i, t, p in LOOK_ALIKES])
def test_a_look_alike_passes(type_token, props):
    assert [v.message for v in judge(type_token, props)] == []
