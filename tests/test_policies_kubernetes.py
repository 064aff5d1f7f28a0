"""Kubernetes workloads and ConfigMaps: compliant fixtures and one failing fixture per way to break each rule."""

from __future__ import annotations

import base64

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
