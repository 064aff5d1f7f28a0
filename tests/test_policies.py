"""The secret-hygiene rules, one compliant fixture and one failing fixture per way to break each rule.

Rules are called directly, as the engine calls them: props behind the SDK's unknown-checking
proxy, unknown values as the SDK's own sentinels. The last tests start the real pack
(`policies/__main__.py`, the analyzer gRPC server the CLI talks to) and drive it over gRPC.
Secret-shaped fixture values are assembled at run time, so no committed file holds one.
"""

from __future__ import annotations

import base64
import copy
import json
import secrets
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import (
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    unknown_checking_proxy,
)

from policies.patterns import find_secret_values, is_placeholder, looks_secret_name, redact, secret_kind
from policies.secret_hygiene import PACK_NAME, POLICIES

ROOT = Path(__file__).resolve().parent.parent
POLICY = {policy.name: policy for policy in POLICIES}
OPTS = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])

PEV = "vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable"
PEVS = "vercel:index/projectEnvironmentVariables:ProjectEnvironmentVariables"
SEV = "vercel:index/sharedEnvironmentVariable:SharedEnvironmentVariable"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
SECRET = "aws:secretsmanager/secret:Secret"
ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"
KMS_ARN = "arn:aws:kms:eu-central-1:111122223333:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


# --- secret-shaped values, assembled at run time ----------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(claims: dict) -> str:
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    return ".".join([header, b64url(json.dumps(claims).encode()), b64url(secrets.token_bytes(32))])


def service_role_jwt() -> str:
    return jwt({"iss": "supabase", "ref": "abcdefghijklmnopqrst", "role": "service_role", "exp": 2000000000})


def anon_jwt() -> str:
    return jwt({"iss": "supabase", "ref": "abcdefghijklmnopqrst", "role": "anon", "exp": 2000000000})


def pem_private_key() -> str:
    body = base64.b64encode(secrets.token_bytes(48)).decode()
    return "-----BEGIN " + "RSA PRIVATE" + " KEY-----\n" + body + "\n-----END " + "RSA PRIVATE" + " KEY-----"


SECRET_SHAPED: dict[str, callable] = {
    "Supabase service_role JWT": service_role_jwt,
    "Supabase secret key": lambda: "sb_" + "secret_" + secrets.token_hex(16),
    "Supabase access token": lambda: "sb" + "p_" + secrets.token_hex(20),
    "AWS access key id": lambda: "AK" + "IA" + secrets.token_hex(8).upper(),
    "PEM private key": pem_private_key,
    "Stripe secret key": lambda: "sk_" + "live_" + secrets.token_hex(12),
    "Slack token": lambda: "xo" + "xb-" + secrets.token_hex(6) + "-" + secrets.token_hex(8),
    "GitHub token": lambda: "gh" + "p_" + secrets.token_hex(18),
    "Slack webhook URL": lambda: "https://hooks.slack.com/services/T" + secrets.token_hex(4).upper() + "/B"
                                 + secrets.token_hex(4).upper() + "/" + secrets.token_hex(12),
    "URL with an embedded password": lambda: f"postgresql://etl:{secrets.token_hex(10)}@db.example.com:5432/postgres",
    "PagerDuty integration URL": lambda: "https://events.pagerduty.com/integration/" + secrets.token_hex(16)
                                         + "/enqueue",
    "Sentry auth token": lambda: "sntry" + "s_" + secrets.token_hex(24),
}


def sentry_dsn() -> str:
    return f"https://{secrets.token_hex(16)}@o4507000000000000.ingest.us.sentry.io/4507000000000001"


# --- calling rules ----------------------------------------------------------------------------------------


def urn_of(type_token: str, name: str) -> str:
    return f"urn:pulumi:test::kingtavo::{type_token}::{name}"


def violations(policy_name: str, type_token: str, props: dict, name: str = "subject",
               config: dict | None = None) -> list[str]:
    """The messages one resource policy reports for one resource, with props as the engine hands them over."""
    messages: list[str] = []
    args = ResourceValidationArgs(type_token, unknown_checking_proxy(copy.deepcopy(props)), urn_of(type_token, name),
                                  name, OPTS, None, config)
    POLICY[policy_name].validate(args, lambda message, urn=None: messages.append(message))
    return messages


def stack_resource(type_token: str, name: str, props: dict) -> PolicyResource:
    return PolicyResource(type_token, unknown_checking_proxy(copy.deepcopy(props)), urn_of(type_token, name), name,
                          OPTS, None, None, [], {})


def stack_violations(policy_name: str, resources: list[PolicyResource],
                     config: dict | None = None) -> list[tuple[str, str]]:
    reported: list[tuple[str, str]] = []
    POLICY[policy_name].validate(StackValidationArgs(resources, config),
                                 lambda message, urn=None: reported.append((urn, message)))
    return reported


# --- the pack's shape -------------------------------------------------------------------------------------


def test_every_policy_is_mandatory_named_described_and_takes_per_resource_exceptions():
    assert len(POLICY) == len(POLICIES)
    for policy in POLICIES:
        assert policy.enforcement_level == EnforcementLevel.MANDATORY, policy.name
        assert policy.description.endswith("."), policy.name
        assert policy.remediation_steps, policy.name
        assert set(policy.config_schema.properties) == {"exceptions"}, policy.name
        item = policy.config_schema.properties["exceptions"]["items"]
        assert item["required"] == ["urn", "reason"] and item["additionalProperties"] is False


def test_the_committed_pack_config_names_only_pack_policies_and_excepts_nothing():
    config = json.loads((ROOT / "policies" / "pack-config.json").read_text())
    assert set(config) == set(POLICY)
    assert all(value == {"exceptions": []} for value in config.values())


def test_the_pack_declares_a_python_runtime_and_assembles_only_the_pack():
    import yaml

    project = yaml.safe_load((ROOT / "policies" / "PulumiPolicy.yaml").read_text())
    assert project["runtime"]["name"] == "python"
    main = (ROOT / "policies" / "__main__.py").read_text()
    assert "PolicyPack(" in main and "def " not in main and "ResourceValidationPolicy" not in main


# --- patterns ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["STRIPE_SECRET_KEY", "PGPASSWORD", "clientSecret", "SUPABASE_SERVICE_ROLE_KEY",
                                  "OPENAI_API_KEY", "service-role-key", "DB_PASSWD", "BASIC_AUTH", "PRIVATE_KEY",
                                  "GOOGLE_APPLICATION_CREDENTIALS", "PULUMI_CONFIG_PASSPHRASE", "etlApiKeys",
                                  "WEBHOOK_SIGNING_SECRET", "SUPABASE_SERVICE_ROLE", "pagerduty-routing-key"])
def test_secret_looking_names(name):
    assert looks_secret_name(name)


@pytest.mark.parametrize("name", ["KMS_KEY_ID", "kmsKeyId", "kmsKeyArn", "SECRET_ARN", "TOKEN_URL",
                                  "NEXT_PUBLIC_SUPABASE_ANON_KEY", "SENTRY_DSN", "PRIVATE_SUBNET_IDS",
                                  "PRIVATE_SUBNETS", "SECRETS_MANAGER_ENDPOINT", "MAX_TOKENS", "PORT", "apiKeyNames",
                                  "serverSecretNames", "NEXTAUTH_URL", "PARTITION_KEY", "slack-webhook-url",
                                  "KEYBOARD", "SECRETARY", "anonKey"])
def test_names_that_only_look_alike(name):
    assert not looks_secret_name(name)


@pytest.mark.parametrize("kind", sorted(SECRET_SHAPED))
def test_each_token_format_is_found_inside_text_and_redacted(kind):
    value = SECRET_SHAPED[kind]()
    text = f"prefix {value} suffix"
    assert secret_kind(text) == kind
    redacted = redact(text)
    assert value not in redacted and f"[REDACTED {kind}]" in redacted


@pytest.mark.parametrize("value", [
    pytest.param(anon_jwt(), id="supabase-anon-jwt"),
    pytest.param(sentry_dsn(), id="sentry-dsn"),
    pytest.param("sb_publishable_" + "a" * 30, id="supabase-publishable-key"),
    pytest.param("postgresql://<user>:<password>@<host>:5432/postgres", id="url-with-placeholders"),
    pytest.param("postgres://etl:${PGPASSWORD}@db:5432/postgres", id="url-with-variable"),
    pytest.param("postgres://etl:{password}@db:5432/postgres", id="url-template-in-code"),
    pytest.param("AK" + "IA" + "IOSFODNN7" + "EXAMPLE", id="aws-documentation-example"),
    pytest.param("arn:aws:secretsmanager:eu-central-1:111122223333:secret:kingtavo/etl/db-AbCdEf", id="arn"),
    pytest.param("<set-me>", id="placeholder"),
    pytest.param("changeme", id="changeme"),
    pytest.param("", id="empty"),
])
def test_allowed_look_alikes_are_not_secret_shaped(value):
    assert find_secret_values(value) == []


@pytest.mark.parametrize("value", ["<set-me>", "changeme", "CHANGE_ME", "example", "xxx", "XXXXXXXX", "", "  ",
                                   "${STRIPE_KEY}", "your-api-key", "placeholder", "***"])
def test_placeholders(value):
    assert is_placeholder(value)


# --- Vercel: secrets are sensitive ------------------------------------------------------------------------


def vercel_var(key: str, value: object = "fake-value", sensitive: object = True,
               targets: object = ("preview", "production")) -> dict:
    return {"projectId": "prj_kingtavo", "key": key, "value": value, "sensitive": sensitive,
            "targets": list(targets) if isinstance(targets, tuple) else targets}


def test_vercel_sensitive_compliant():
    assert violations("vercel-secret-env-sensitive", PEV, vercel_var("STRIPE_SECRET_KEY")) == []
    assert violations("vercel-secret-env-sensitive", PEV, vercel_var("SENTRY_DSN", sentry_dsn(), False)) == []
    assert violations("vercel-secret-env-sensitive", PEV, vercel_var("NEXT_PUBLIC_SITE_URL", "https://x.io", False)) \
        == []


def test_vercel_sensitive_fails_for_a_secret_looking_key():
    assert violations("vercel-secret-env-sensitive", PEV, vercel_var("STRIPE_SECRET_KEY", sensitive=False),
                      name="web-env-stripe") == [
        "ProjectEnvironmentVariable 'web-env-stripe': sensitive is False for STRIPE_SECRET_KEY (its name looks "
        "secret), so anyone with access to the project can read the value back. Fix: set sensitive=True on "
        "STRIPE_SECRET_KEY."]


def test_vercel_sensitive_fails_for_a_secret_shaped_value_under_an_ordinary_key():
    props = vercel_var("DATABASE_URL", SECRET_SHAPED["URL with an embedded password"](), sensitive=False)
    assert violations("vercel-secret-env-sensitive", PEV, props, name="web-env-db") == [
        "ProjectEnvironmentVariable 'web-env-db': sensitive is False for DATABASE_URL (its value is secret-shaped: "
        "URL with an embedded password), so anyone with access to the project can read the value back. Fix: set "
        "sensitive=True on DATABASE_URL."]


def test_vercel_sensitive_reads_every_entry_of_project_environment_variables():
    props = {"projectId": "prj_kingtavo", "variables": [
        {"key": "NEXT_PUBLIC_SITE_URL", "value": "https://kingtavo.com", "sensitive": False, "targets": ["production"]},
        {"key": "SENTRY_AUTH_TOKEN", "value": "fake", "sensitive": False, "targets": ["production"]},
    ]}
    assert violations("vercel-secret-env-sensitive", PEVS, props, name="web-env") == [
        "ProjectEnvironmentVariables 'web-env': variables[1].sensitive is False for SENTRY_AUTH_TOKEN (its name looks "
        "secret), so anyone with access to the project can read the value back. Fix: set sensitive=True on "
        "SENTRY_AUTH_TOKEN."]


def test_vercel_sensitive_covers_shared_variables():
    props = {"key": "SUPABASE_SERVICE_ROLE_KEY", "value": "fake", "sensitive": False, "targets": ["production"],
             "projectIds": ["prj_kingtavo"]}
    assert violations("vercel-secret-env-sensitive", SEV, props, name="shared") == [
        "SharedEnvironmentVariable 'shared': sensitive is False for SUPABASE_SERVICE_ROLE_KEY (its name looks secret), "
        "so anyone with access to the project can read the value back. Fix: set sensitive=True on "
        "SUPABASE_SERVICE_ROLE_KEY."]


def test_vercel_sensitive_unknown_values_are_not_violations():
    assert violations("vercel-secret-env-sensitive", PEV,
                      vercel_var("STRIPE_SECRET_KEY", sensitive=UNKNOWN_BOOLEAN_VALUE)) == []
    assert violations("vercel-secret-env-sensitive", PEV,
                      vercel_var("DATABASE_URL", UNKNOWN_STRING_VALUE, sensitive=False)) == []
    assert violations("vercel-secret-env-sensitive", PEVS, {"projectId": "p", "variables": UNKNOWN_OBJECT_VALUE}) == []


# --- Vercel: secrets stay off development -----------------------------------------------------------------


def test_vercel_not_development_compliant():
    assert violations("vercel-secret-env-not-development", PEV, vercel_var("STRIPE_SECRET_KEY")) == []
    assert violations("vercel-secret-env-not-development", PEV,
                      vercel_var("NEXT_PUBLIC_SITE_URL", "https://x.io", False, ("development", "preview"))) == []


def test_vercel_not_development_fails_for_a_sensitive_variable():
    props = vercel_var("STRIPE_SECRET_KEY", targets=("development", "preview"))
    assert violations("vercel-secret-env-not-development", PEV, props, name="web-env-stripe") == [
        "ProjectEnvironmentVariable 'web-env-stripe': targets includes 'development' for STRIPE_SECRET_KEY (it is "
        "sensitive), so `vercel env pull` copies it to developers' machines. Fix: target only 'preview' and/or "
        "'production' with STRIPE_SECRET_KEY; developers keep their own test keys in .env.local."]


def test_vercel_not_development_fails_for_a_secret_looking_key_that_is_not_sensitive():
    props = vercel_var("SUPABASE_SERVICE_ROLE_KEY", sensitive=False, targets=("development",))
    assert violations("vercel-secret-env-not-development", PEV, props, name="web-env-sr") == [
        "ProjectEnvironmentVariable 'web-env-sr': targets includes 'development' for SUPABASE_SERVICE_ROLE_KEY (its "
        "name looks secret), so `vercel env pull` copies it to developers' machines. Fix: target only 'preview' "
        "and/or 'production' with SUPABASE_SERVICE_ROLE_KEY; developers keep their own test keys in .env.local."]


def test_vercel_not_development_unknown_targets_are_not_violations():
    assert violations("vercel-secret-env-not-development", PEV,
                      vercel_var("STRIPE_SECRET_KEY", targets=UNKNOWN_OBJECT_VALUE)) == []


# --- Vercel: NEXT_PUBLIC_ is public -----------------------------------------------------------------------


@pytest.mark.parametrize(("key", "value"), [
    ("NEXT_PUBLIC_SUPABASE_ANON_KEY", anon_jwt()),
    ("NEXT_PUBLIC_SUPABASE_PUBLISHABLE_KEY", "sb_publishable_" + "b" * 30),
    ("NEXT_PUBLIC_SENTRY_DSN", sentry_dsn()),
    ("NEXT_PUBLIC_SUPABASE_URL", "https://abcdefghijklmnopqrst.supabase.co"),
    ("NEXT_PUBLIC_SITE_URL", "<set-me>"),
    ("NEXT_PUBLIC_SUPABASE_ANON_KEY", UNKNOWN_STRING_VALUE),
], ids=["anon-jwt", "publishable-key", "sentry-dsn", "url", "placeholder", "unknown"])
def test_vercel_public_compliant(key, value):
    assert violations("vercel-public-env-no-secrets", PEV, vercel_var(key, value, False)) == []


def test_vercel_public_fails_for_a_secret_looking_name():
    props = vercel_var("NEXT_PUBLIC_STRIPE_SECRET_KEY", "<set-me>", False)
    assert violations("vercel-public-env-no-secrets", PEV, props, name="web-env-public") == [
        "ProjectEnvironmentVariable 'web-env-public': key NEXT_PUBLIC_STRIPE_SECRET_KEY looks secret, and NEXT_PUBLIC_ "
        "variables are inlined into the JavaScript every browser downloads. Fix: drop the NEXT_PUBLIC_ prefix, mark it "
        "sensitive=True and read it only on the server."]


@pytest.mark.parametrize("kind", ["Supabase service_role JWT", "Supabase secret key", "Supabase access token",
                                  "AWS access key id", "PEM private key", "Stripe secret key", "Slack token",
                                  "GitHub token"])
def test_vercel_public_fails_for_each_secret_shaped_value(kind):
    props = vercel_var("NEXT_PUBLIC_SUPABASE_ANON_KEY", SECRET_SHAPED[kind](), False)
    assert violations("vercel-public-env-no-secrets", PEV, props, name="web-env-anon") == [
        f"ProjectEnvironmentVariable 'web-env-anon': value of NEXT_PUBLIC_SUPABASE_ANON_KEY is secret-shaped ({kind}), "
        "and NEXT_PUBLIC_ variables are shipped to every browser. Fix: revoke that credential, ship only public values "
        "(the Supabase anon key, a Sentry DSN) in NEXT_PUBLIC_SUPABASE_ANON_KEY, and keep the secret in a sensitive "
        "server-side variable."]


# --- Kubernetes workloads ---------------------------------------------------------------------------------


def pod_spec(env: list[dict], group: str = "containers") -> dict:
    return {group: [{"name": "etl", "image": "registry/etl:1.0", "env": env}]}


def workload(env: list[dict], group: str = "containers") -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "etl-blue", "namespace": "etl"},
            "spec": {"template": {"spec": pod_spec(env, group)}}}


SECRET_REF = {"valueFrom": {"secretKeyRef": {"name": "etl-secrets", "key": "PGPASSWORD"}}}


def test_kubernetes_env_compliant():
    env = [{"name": "PGPASSWORD", **SECRET_REF}, {"name": "PORT", "value": "8080"},
           {"name": "DB_SECRET", "value": "arn:aws:secretsmanager:eu-central-1:111122223333:secret:etl-AbCdEf"},
           {"name": "SENTRY_DSN", "value": sentry_dsn()}, {"name": "POD_IP", "valueFrom": {"fieldRef": {
               "fieldPath": "status.podIP"}}}]
    assert violations("kubernetes-secret-env-from-secret-ref", DEPLOYMENT, workload(env)) == []


def test_kubernetes_env_fails_for_a_literal_secret():
    assert violations("kubernetes-secret-env-from-secret-ref", DEPLOYMENT,
                      workload([{"name": "PGPASSWORD", "value": "fake-password"}]), name="etl-blue") == [
        "Deployment 'etl-blue': container 'etl' env PGPASSWORD (spec.template.spec.containers[0].env[0]) is set with a "
        "literal `value`. Fix: read PGPASSWORD with valueFrom.secretKeyRef from a Kubernetes Secret (an ExternalSecret "
        "fills it)."]


def test_kubernetes_env_fails_for_a_secret_read_from_a_config_map():
    env = [{"name": "STRIPE_API_KEY", "valueFrom": {"configMapKeyRef": {"name": "etl-config", "key": "stripe"}}}]
    assert violations("kubernetes-secret-env-from-secret-ref", DEPLOYMENT, workload(env), name="etl-blue") == [
        "Deployment 'etl-blue': container 'etl' env STRIPE_API_KEY (spec.template.spec.containers[0].env[0]) reads "
        "ConfigMap 'etl-config' with configMapKeyRef. Fix: read STRIPE_API_KEY with valueFrom.secretKeyRef from a "
        "Kubernetes Secret (an ExternalSecret fills it)."]


def test_kubernetes_env_fails_for_a_secret_shaped_value_under_an_ordinary_name():
    env = [{"name": "UPSTREAM", "value": SECRET_SHAPED["Stripe secret key"]()}]
    assert violations("kubernetes-secret-env-from-secret-ref", DEPLOYMENT, workload(env), name="etl-blue") == [
        "Deployment 'etl-blue': container 'etl' env UPSTREAM (spec.template.spec.containers[0].env[0]) holds a "
        "secret-shaped value (Stripe secret key) in `value`. Fix: read UPSTREAM with valueFrom.secretKeyRef from a "
        "Kubernetes Secret (an ExternalSecret fills it)."]


@pytest.mark.parametrize(("type_token", "spec_path"), [
    ("kubernetes:core/v1:Pod", ("spec",)),
    ("kubernetes:apps/v1:StatefulSet", ("spec", "template", "spec")),
    ("kubernetes:apps/v1:DaemonSet", ("spec", "template", "spec")),
    ("kubernetes:batch/v1:Job", ("spec", "template", "spec")),
    ("kubernetes:batch/v1:CronJob", ("spec", "jobTemplate", "spec", "template", "spec")),
])
@pytest.mark.parametrize("group", ["containers", "initContainers"])
def test_kubernetes_env_covers_every_workload_kind_and_init_containers(type_token, spec_path, group):
    props: dict = pod_spec([{"name": "API_TOKEN", "value": "fake-token"}], group)
    for step in reversed(spec_path):
        props = {step: props}
    [message] = violations("kubernetes-secret-env-from-secret-ref", type_token, props, name="w")
    assert f"env API_TOKEN ({'.'.join(spec_path)}.{group}[0].env[0]) is set with a literal `value`" in message


def test_kubernetes_env_unknown_values():
    """Unknown is no violation by itself; a secret-looking name set with `value` is one whatever the value."""
    assert violations("kubernetes-secret-env-from-secret-ref", DEPLOYMENT,
                      workload([{"name": "LOG_LEVEL", "value": UNKNOWN_STRING_VALUE}])) == []
    [message] = violations("kubernetes-secret-env-from-secret-ref", DEPLOYMENT,
                           workload([{"name": "PGPASSWORD", "value": UNKNOWN_STRING_VALUE}]))
    assert "is set with a literal `value`" in message


# --- Kubernetes ConfigMaps --------------------------------------------------------------------------------


def config_map(data: dict, binary: dict | None = None) -> dict:
    props = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "etl-config"}, "data": data}
    if binary is not None:
        props["binaryData"] = binary
    return props


def test_config_map_compliant():
    data = {"ENVIRONMENT": "staging", "PORT": "8080", "SENTRY_DSN": sentry_dsn(), "etl.json": '{"title": "ETL"}',
            "SUPABASE_ANON_KEY": anon_jwt(), "PGPASSWORD_FILE": "/var/run/secrets/pg"}
    assert violations("kubernetes-configmap-no-secrets", CONFIG_MAP, config_map(data)) == []


def test_config_map_fails_for_a_secret_looking_key():
    assert violations("kubernetes-configmap-no-secrets", CONFIG_MAP, config_map({"PGPASSWORD": "fake"}),
                      name="etl-config") == [
        "ConfigMap 'etl-config': data.PGPASSWORD looks secret, and ConfigMaps are neither encrypted nor "
        "access-restricted like Secrets. Fix: move it to a Kubernetes Secret (synced from Secrets Manager by an "
        "ExternalSecret) and mount or reference it."]


def test_config_map_fails_for_a_secret_shaped_value():
    data = {"alertmanager.yaml": "slack_api_url: " + SECRET_SHAPED["Slack webhook URL"]()}
    assert violations("kubernetes-configmap-no-secrets", CONFIG_MAP, config_map(data), name="am") == [
        "ConfigMap 'am': data.alertmanager.yaml holds a secret-shaped value (Slack webhook URL). Fix: move it to a "
        "Kubernetes Secret (synced from Secrets Manager by an ExternalSecret) and mount or reference it."]


def test_config_map_reads_binary_data():
    binary = {"bundle.pem": base64.b64encode(pem_private_key().encode()).decode()}
    assert violations("kubernetes-configmap-no-secrets", CONFIG_MAP, config_map({}, binary), name="tls") == [
        "ConfigMap 'tls': binaryData.bundle.pem holds a secret-shaped value (PEM private key). Fix: move it to a "
        "Kubernetes Secret (synced from Secrets Manager by an ExternalSecret) and mount or reference it."]


def test_config_map_unknown_data_is_not_a_violation():
    assert violations("kubernetes-configmap-no-secrets", CONFIG_MAP, config_map(UNKNOWN_OBJECT_VALUE)) == []
    assert violations("kubernetes-configmap-no-secrets", CONFIG_MAP,
                      config_map({"STRIPE_URL": UNKNOWN_STRING_VALUE})) == []


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
    assert message.startswith("RolePolicy 'subject': policy holds a secret-shaped value (GitHub token)")


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


# --- Secrets Manager: customer-managed KMS ----------------------------------------------------------------

SM_FIX = "Fix: set kms_key_id to a customer-managed KMS key (rotation on) dedicated to secrets."


def test_secretsmanager_kms_compliant():
    assert violations("secretsmanager-customer-managed-kms", SECRET, {"name": "db", "kmsKeyId": KMS_ARN}) == []
    assert violations("secretsmanager-customer-managed-kms", SECRET, {"name": "db", "kmsKeyId": UNKNOWN_STRING_VALUE}) \
        == []


def test_secretsmanager_kms_fails_without_a_key():
    assert violations("secretsmanager-customer-managed-kms", SECRET, {"name": "db"}, name="db") == [
        "Secret 'db': kmsKeyId is not set, so Secrets Manager encrypts with the AWS managed key aws/secretsmanager, "
        f"whose key policy cannot be restricted. {SM_FIX}"]


@pytest.mark.parametrize("key", ["alias/aws/secretsmanager",
                                 "arn:aws:kms:eu-central-1:111122223333:alias/aws/secretsmanager"])
def test_secretsmanager_kms_fails_with_the_aws_managed_key(key):
    assert violations("secretsmanager-customer-managed-kms", SECRET, {"name": "db", "kmsKeyId": key}, name="db") == [
        f"Secret 'db': kmsKeyId is the AWS managed key '{key}', whose key policy cannot be restricted. {SM_FIX}"]


# --- Secrets Manager: rotation (stack) --------------------------------------------------------------------

ROTATION_FIX = ("Fix: add an aws.secretsmanager.SecretRotation for it, or tag it rotation=manual with a "
                "rotation-reason tag saying who rotates it by hand and how.")


def secret_resource(name: str, tags: object = None) -> PolicyResource:
    props = {"name": f"kingtavo/staging/{name}", "kmsKeyId": KMS_ARN,
             "arn": f"arn:aws:secretsmanager:eu-central-1:111122223333:secret:kingtavo/staging/{name}-AbCdEf"}
    if tags is not None:
        props["tags"] = tags
    return stack_resource(SECRET, name, props)


def test_rotation_compliant_by_property_dependency_even_when_the_id_is_unknown():
    database = secret_resource("database")
    rotation = stack_resource(ROTATION, "database-rotation", {"secretId": UNKNOWN_STRING_VALUE})
    rotation.property_dependencies["secretId"] = [database]
    assert stack_violations("secretsmanager-rotation", [database, rotation]) == []


def test_rotation_compliant_by_secret_arn():
    database = secret_resource("database")
    rotation = stack_resource(ROTATION, "database-rotation", {"secretId": database.props["arn"]})
    assert stack_violations("secretsmanager-rotation", [database, rotation]) == []


def test_rotation_compliant_when_tagged_manual_with_a_reason():
    api_key = secret_resource("stripe", {"rotation": "manual",
                                         "rotation-reason": "Stripe dashboard, yearly and on staff changes"})
    assert stack_violations("secretsmanager-rotation", [api_key]) == []


def test_rotation_fails_without_rotation_or_tag():
    lonely = secret_resource("stripe", {"team": "platform"})
    assert stack_violations("secretsmanager-rotation", [lonely]) == [
        (lonely.urn, f"Secret 'stripe': has no SecretRotation and no tags.rotation='manual', so nothing ever rotates "
                     f"it. {ROTATION_FIX}")]


@pytest.mark.parametrize("reason", [None, "", "<why>"])
def test_rotation_fails_when_manual_has_no_reason(reason):
    tags = {"rotation": "manual"} | ({} if reason is None else {"rotation-reason": reason})
    manual = secret_resource("stripe", tags)
    assert stack_violations("secretsmanager-rotation", [manual]) == [
        (manual.urn, f"Secret 'stripe': tags.rotation is 'manual' but tags.rotation-reason gives no reason. "
                     f"{ROTATION_FIX}")]


def test_rotation_of_one_secret_does_not_cover_another():
    database, other = secret_resource("database"), secret_resource("other")
    rotation = stack_resource(ROTATION, "database-rotation", {"secretId": database.props["arn"]})
    assert [urn for urn, _ in stack_violations("secretsmanager-rotation", [database, other, rotation])] == [other.urn]


def test_rotation_unknown_tags_are_not_a_violation():
    assert stack_violations("secretsmanager-rotation", [secret_resource("stripe", UNKNOWN_OBJECT_VALUE)]) == []


def test_rotation_is_the_one_stack_policy():
    assert [p.name for p in POLICIES if isinstance(p, StackValidationPolicy)] == ["secretsmanager-rotation"]


# --- KMS, EKS, SNS, CloudWatch Logs -----------------------------------------------------------------------


def test_kms_rotation():
    policy, key = "kms-key-rotation-enabled", "aws:kms/key:Key"
    assert violations(policy, key, {"enableKeyRotation": True}) == []
    assert violations(policy, key, {"enableKeyRotation": UNKNOWN_BOOLEAN_VALUE}) == []
    assert violations(policy, key, {"customerMasterKeySpec": "RSA_2048", "keyUsage": "SIGN_VERIFY"}) == []
    fix = "Fix: set enable_key_rotation=True (and rotation_period_in_days if a year is too long)."
    assert violations(policy, key, {"enableKeyRotation": False}, name="k") == [
        f"Key 'k': enableKeyRotation is False, so the key material is never rotated. {fix}"]
    assert violations(policy, key, {"description": "no rotation set"}, name="k") == [
        f"Key 'k': enableKeyRotation is None, so the key material is never rotated. {fix}"]


EKS = "aws:eks/cluster:Cluster"
EKS_FIX = ("Fix: set encryption_config with resources=['secrets'] and provider.key_arn of a customer-managed KMS "
           "key.")


def test_eks_secrets_encryption_compliant():
    props = {"name": "kingtavo", "encryptionConfig": {"resources": ["secrets"], "provider": {"keyArn": KMS_ARN}}}
    assert violations("eks-secrets-encryption", EKS, props) == []
    props["encryptionConfig"]["provider"]["keyArn"] = UNKNOWN_STRING_VALUE
    assert violations("eks-secrets-encryption", EKS, props) == []
    assert violations("eks-secrets-encryption", EKS, {"encryptionConfig": UNKNOWN_OBJECT_VALUE}) == []


def test_eks_secrets_encryption_fails_without_config():
    assert violations("eks-secrets-encryption", EKS, {"name": "kingtavo"}, name="eks") == [
        f"Cluster 'eks': encryptionConfig is not set, so Kubernetes Secrets sit in etcd without envelope encryption. "
        f"{EKS_FIX}"]


def test_eks_secrets_encryption_fails_without_secrets_resource():
    props = {"encryptionConfig": {"resources": [], "provider": {"keyArn": KMS_ARN}}}
    assert violations("eks-secrets-encryption", EKS, props, name="eks") == [
        f"Cluster 'eks': encryptionConfig.resources is [], which leaves out 'secrets'. {EKS_FIX}"]


def test_eks_secrets_encryption_fails_without_key():
    props = {"encryptionConfig": {"resources": ["secrets"], "provider": {}}}
    assert violations("eks-secrets-encryption", EKS, props, name="eks") == [
        f"Cluster 'eks': encryptionConfig.provider.keyArn is not set. {EKS_FIX}"]


SNS_FIX = ("Fix: set kms_master_key_id to a customer-managed KMS key whose policy lets CloudWatch and EventBridge "
           "use it.")


def test_sns_topic_encryption():
    policy, topic = "sns-topic-kms-encryption", "aws:sns/topic:Topic"
    assert violations(policy, topic, {"kmsMasterKeyId": KMS_ARN}) == []
    assert violations(policy, topic, {"kmsMasterKeyId": UNKNOWN_STRING_VALUE}) == []
    assert violations(policy, topic, {"name": "alerts"}, name="alerts") == [
        f"Topic 'alerts': kmsMasterKeyId is not set, so messages (alert payloads) are stored unencrypted. {SNS_FIX}"]
    assert violations(policy, topic, {"kmsMasterKeyId": "alias/aws/sns"}, name="alerts") == [
        f"Topic 'alerts': kmsMasterKeyId is the AWS managed key 'alias/aws/sns', which CloudWatch alarms cannot use. "
        f"{SNS_FIX}"]


def test_log_group_encryption():
    policy, group = "cloudwatch-log-group-kms-encryption", "aws:cloudwatch/logGroup:LogGroup"
    assert violations(policy, group, {"kmsKeyId": KMS_ARN}) == []
    assert violations(policy, group, {"kmsKeyId": UNKNOWN_STRING_VALUE}) == []
    assert violations(policy, group, {"name": "/aws/lambda/x"}, name="logs") == [
        "LogGroup 'logs': kmsKeyId is not set, so the logs are encrypted only with a key nobody can restrict. Fix: set "
        "kms_key_id to a customer-managed KMS key whose policy lets logs.<region> use it."]


# --- Lambda -----------------------------------------------------------------------------------------------

LAMBDA = "aws:lambda/function:Function"


def lambda_env(variables: object) -> dict:
    return {"runtime": "python3.12", "environment": {"variables": variables}}


def test_lambda_environment_compliant():
    variables = {"SECRETS_MANAGER_ENDPOINT": "https://secretsmanager.eu-central-1.amazonaws.com",
                 "DB_SECRET_ARN": "arn:aws:secretsmanager:eu-central-1:111122223333:secret:db-AbCdEf",
                 "DB_SECRET": "arn:aws:secretsmanager:eu-central-1:111122223333:secret:db-AbCdEf",
                 "SENTRY_DSN": sentry_dsn(), "REGION": UNKNOWN_STRING_VALUE}
    assert violations("lambda-environment-no-secrets", LAMBDA, lambda_env(variables)) == []
    assert violations("lambda-environment-no-secrets", LAMBDA, lambda_env(UNKNOWN_OBJECT_VALUE)) == []


def test_lambda_environment_fails_for_a_secret_looking_literal():
    assert violations("lambda-environment-no-secrets", LAMBDA, lambda_env({"SUPABASE_ACCESS_TOKEN": "fake"}),
                      name="monitor") == [
        "Function 'monitor': environment.variables.SUPABASE_ACCESS_TOKEN looks secret and is set as a literal, "
        "readable by anyone allowed lambda:GetFunctionConfiguration. Fix: keep the value in Secrets Manager, pass its "
        "ARN (e.g. SUPABASE_ACCESS_TOKEN_ARN) and read it at run time."]


def test_lambda_environment_fails_for_a_secret_shaped_value():
    variables = {"DATABASE_URL": SECRET_SHAPED["URL with an embedded password"]()}
    assert violations("lambda-environment-no-secrets", LAMBDA, lambda_env(variables), name="monitor") == [
        "Function 'monitor': environment.variables.DATABASE_URL holds a secret-shaped value (URL with an embedded "
        "password), readable by anyone allowed lambda:GetFunctionConfiguration. Fix: keep the value in Secrets "
        "Manager, pass its ARN (e.g. DATABASE_URL_ARN) and read it at run time."]


def test_lambda_environment_is_judged_once():
    variables = {"UPSTREAM": SECRET_SHAPED["Stripe secret key"]()}
    assert violations("no-secret-shaped-values", LAMBDA, lambda_env(variables)) == []
    assert len(violations("lambda-environment-no-secrets", LAMBDA, lambda_env(variables))) == 1


# --- exceptions -------------------------------------------------------------------------------------------


def test_an_exception_is_per_resource_and_per_rule_and_needs_a_reason():
    props = {"name": "db"}
    urn = urn_of(SECRET, "legacy")
    excepted = {"exceptions": [{"urn": urn, "reason": "imported legacy secret, re-keyed in KINGTAVO-123"}]}
    assert violations("secretsmanager-customer-managed-kms", SECRET, props, name="legacy", config=excepted) == []
    assert len(violations("secretsmanager-customer-managed-kms", SECRET, props, name="other", config=excepted)) == 1
    without_reason = {"exceptions": [{"urn": urn, "reason": ""}]}
    assert len(violations("secretsmanager-customer-managed-kms", SECRET, props, name="legacy",
                          config=without_reason)) == 1


def test_a_stack_rule_exception_silences_only_that_secret():
    legacy, other = secret_resource("legacy"), secret_resource("other")
    config = {"exceptions": [{"urn": legacy.urn, "reason": "retired next sprint, see KINGTAVO-124"}]}
    assert [urn for urn, _ in stack_violations("secretsmanager-rotation", [legacy, other], config)] == [other.urn]


# --- the real pack, as the CLI runs it --------------------------------------------------------------------


@pytest.fixture(scope="module")
def analyzer():
    """`policies/__main__.py` started as the CLI starts it: it prints its port and serves the Analyzer API."""
    process = subprocess.Popen([sys.executable, "-u", "__main__.py"], cwd=ROOT / "policies",
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = process.stdout.readline().strip()
        assert port.isdigit(), process.stderr.read()
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=30)
        yield analyzer_pb2_grpc.AnalyzerStub(channel)
        channel.close()
    finally:
        process.terminate()
        process.wait(timeout=30)


def struct(value: dict) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    json_format.ParseDict(value, message)
    return message


def test_the_pack_serves_every_policy(analyzer):
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == PACK_NAME
    assert [p.name for p in info.policies] == [p.name for p in POLICIES]
    assert all(p.enforcementLevel == analyzer_pb2.MANDATORY for p in info.policies)


def test_the_pack_reports_a_violation_and_honours_a_configured_exception(analyzer):
    type_token, name = "aws:sns/topic:Topic", "alerts"
    request = analyzer_pb2.AnalyzeRequest(type=type_token, urn=urn_of(type_token, name), name=name,
                                          properties=struct({"name": "alerts"}))
    response = analyzer.Analyze(request)
    assert [(d.policyName, d.enforcementLevel) for d in response.diagnostics] == [
        ("sns-topic-kms-encryption", analyzer_pb2.MANDATORY)]
    assert "Topic 'alerts': kmsMasterKeyId is not set" in response.diagnostics[0].message

    exception = {"exceptions": [{"urn": urn_of(type_token, name), "reason": "fixture: excepted on purpose"}]}
    analyzer.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig={
        "sns-topic-kms-encryption": analyzer_pb2.PolicyConfig(enforcementLevel=analyzer_pb2.MANDATORY,
                                                              properties=struct(exception))}))
    try:
        assert list(analyzer.Analyze(request).diagnostics) == []
    finally:
        analyzer.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig={}))


def test_the_pack_treats_an_unknown_value_as_no_violation(analyzer):
    type_token = PEV
    props = vercel_var("NEXT_PUBLIC_SUPABASE_ANON_KEY", UNKNOWN_STRING_VALUE, False)
    response = analyzer.Analyze(analyzer_pb2.AnalyzeRequest(type=type_token, urn=urn_of(type_token, "v"), name="v",
                                                            properties=struct(props)))
    assert list(response.diagnostics) == []


def test_the_pack_matches_a_rotation_by_property_dependency(analyzer):
    secret_urn, rotation_urn = urn_of(SECRET, "database"), urn_of(ROTATION, "rotation")
    resources = [
        analyzer_pb2.AnalyzerResource(type=SECRET, urn=secret_urn, name="database",
                                      properties=struct({"name": "db", "kmsKeyId": KMS_ARN})),
        analyzer_pb2.AnalyzerResource(type=SECRET, urn=urn_of(SECRET, "stripe"), name="stripe",
                                      properties=struct({"name": "stripe", "kmsKeyId": KMS_ARN})),
        analyzer_pb2.AnalyzerResource(
            type=ROTATION, urn=rotation_urn, name="rotation", properties=struct({"secretId": UNKNOWN_STRING_VALUE}),
            propertyDependencies={"secretId": analyzer_pb2.AnalyzerPropertyDependencies(urns=[secret_urn])}),
    ]
    response = analyzer.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=resources))
    assert [(d.policyName, d.urn) for d in response.diagnostics] == [
        ("secretsmanager-rotation", urn_of(SECRET, "stripe"))]
