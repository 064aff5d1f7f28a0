"""Kubernetes workloads and ConfigMaps: compliant fixtures and one failing fixture per way to break each rule."""

from __future__ import annotations

import base64
import json

import pytest
from pulumi_policy.proxy import UNKNOWN_OBJECT_VALUE, UNKNOWN_STRING_VALUE

from tests.support.policy_fixtures import (
    CONFIG_MAP,
    DEPLOYMENT,
    SECRET_SHAPED,
    anon_jwt,
    pem_private_key,
    sentry_dsn,
    violations,
)

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


# --- every workload kind, arguments, commands and probe headers (issue 17) ----------------------------------

ROLLOUT = "kubernetes:argoproj.io/v1alpha1:Rollout"


def rollout(container: dict) -> dict:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "etl"},
            "spec": {"strategy": {"blueGreen": {"activeService": "etl-live"}},
                     "template": {"spec": {"containers": [{"name": "etl", "image": "registry/etl:1.0", **container}]}}}}


def test_kubernetes_env_covers_an_argo_rollout():
    assert violations("kubernetes-secret-env-from-secret-ref", ROLLOUT, rollout({"env": [
        {"name": "PGPASSWORD", **SECRET_REF}]})) == []
    assert violations("kubernetes-secret-env-from-secret-ref", ROLLOUT,
                      rollout({"env": [{"name": "DB_PASS", "value": "fake-password"}]}), name="etl") == [
        "Rollout 'etl': container 'etl' env DB_PASS (spec.template.spec.containers[0].env[0]) is set with a literal "
        "`value`. Fix: read DB_PASS with valueFrom.secretKeyRef from a Kubernetes Secret (an ExternalSecret fills it)."]


ARGS_FIX = "Fix: set {flag} from an env var read with valueFrom.secretKeyRef and pass $(VAR)."


def test_kubernetes_args_compliant():
    container = {"args": ["--listen=:8080", "--db-password=$(PGPASSWORD)", "--token-file", "/run/secrets/t",
                          "--log-level", "info"], "command": ["/etl", "serve"]}
    assert violations("kubernetes-secret-env-from-secret-ref", DEPLOYMENT, {"spec": {"template": {"spec": {
        "containers": [{"name": "etl", **container}]}}}}) == []


@pytest.mark.parametrize(("field", "argv", "index", "flag"), [
    ("args", ["--db-password=fake-pw-123"], 0, "db-password"),
    ("args", ["--log-level", "info", "--api-token", "fake-token-123"], 2, "api-token"),
    ("command", ["/etl", "--mysql-pwd", "fake-pw-123"], 1, "mysql-pwd"),
], ids=["inline", "separate", "command"])
def test_kubernetes_args_fail_for_a_secret_flag_with_a_literal(field, argv, index, flag):
    props = {"spec": {"template": {"spec": {"containers": [{"name": "etl", field: argv}]}}}}
    assert violations("kubernetes-secret-env-from-secret-ref", DEPLOYMENT, props, name="etl-blue") == [
        f"Deployment 'etl-blue': container 'etl' {field}[{index}] passes --{flag} a literal value "
        f"(spec.template.spec.containers[0].{field}), readable by anyone who can read the pod spec. "
        + ARGS_FIX.format(flag=flag)]


def test_kubernetes_probe_headers():
    probe = {"httpGet": {"path": "/healthz", "port": 8080, "httpHeaders": [{"name": "X-Probe", "value": "1"}]}}
    container = {"name": "etl", "readinessProbe": probe}
    props = {"spec": {"template": {"spec": {"containers": [container]}}}}
    assert violations("kubernetes-secret-env-from-secret-ref", DEPLOYMENT, props) == []
    probe["httpGet"]["httpHeaders"].append({"name": "Authorization", "value": "Bearer fake-123456"})
    assert violations("kubernetes-secret-env-from-secret-ref", DEPLOYMENT, props, name="etl-blue") == [
        "Deployment 'etl-blue': container 'etl' readinessProbe sends header Authorization with a literal value "
        "(spec.template.spec.containers[0].readinessProbe.httpGet.httpHeaders[1]). Fix: probe a tokenless health "
        "endpoint, or use an exec probe that reads a mounted Secret."]


CM_FIX = ("Fix: move it to a Kubernetes Secret (synced from Secrets Manager by an ExternalSecret) and mount or "
          "reference it.")


@pytest.mark.parametrize(("key", "text", "path", "name"), [
    ("app.yaml", "server:\n  port: 8080\ndatabase:\n  host: db\n  password: fake-pw-1234\n",
     "data.app.yaml(yaml).database.password", "password"),
    ("app.json", json.dumps({"smtp": {"user": "ops", "pass": "fake-pw-1234"}}), "data.app.json(json).smtp.pass",
     "pass"),
    ("db.properties", "db.url=jdbc:postgresql://db/etl\ndb.password=fake-pw-1234\n",
     "data.db.properties(line 2)", "db.password"),
], ids=["yaml-file", "json-file", "properties-file"])
def test_config_map_files_fail_for_secret_named_entries(key, text, path, name):
    assert violations("kubernetes-configmap-no-secrets", CONFIG_MAP, config_map({key: text}), name="etl") == [
        f"ConfigMap 'etl': {path} (a file in the ConfigMap) sets {name} to a literal. {CM_FIX}"]


def test_config_map_base64_inside_a_file_is_decoded():
    token = SECRET_SHAPED["Stripe secret key"]()
    text = "upstream:\n  header: " + base64.b64encode(f"key {token}".encode()).decode() + "\n"
    [message] = violations("kubernetes-configmap-no-secrets", CONFIG_MAP, config_map({"app.yaml": text}), name="etl")
    assert message == (f"ConfigMap 'etl': data.app.yaml(yaml).upstream.header(base64) holds a secret-shaped value "
                       f"(Stripe secret key). {CM_FIX}")
    assert token not in message


def test_config_map_files_compliant():
    data = {"app.yaml": "server:\n  port: 8080\ndatabase:\n  host: db\n  password_file: /run/secrets/db\n",
            "app.json": json.dumps({"features": {"private_beta": True}, "token_limit": 1000}),
            "upload.sh": "set -eu\nkey=$(cat /dump/key)\necho done\n"}
    assert violations("kubernetes-configmap-no-secrets", CONFIG_MAP, config_map(data)) == []
