"""Pulumi.yaml's config block is generated from the settings models: current, complete, field by field.

The expected defaults below are the ones Pulumi.yaml documented by hand before it was generated;
a default that changes must change here too, on purpose.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml
from pydantic_core import PydanticUndefined

from components.core.environments import STACKS
from components.core.settings import PLANES, SECRET_KEYS
from components.core.settings.schema import config_schema, describe_field, field_default, model_fields
from tools import schema as schema_tool
from tools.harness import ROOT, stack_config

REQUIRED = object()
EXPECTED_DEFAULTS = {
    ("network", "cidr"): "10.0.0.0/16", ("network", "azCount"): 3, ("network", "natGateways"): "per_az",
    ("network", "subnetPrefixLength"): 20, ("network", "flowLogRetentionDays"): 90,
    ("cluster", "name"): "kingtavo", ("cluster", "kubernetesVersion"): REQUIRED,
    ("cluster", "nodeInstanceTypes"): REQUIRED, ("cluster", "nodeMinSize"): REQUIRED,
    ("cluster", "nodeDesiredSize"): REQUIRED, ("cluster", "nodeMaxSize"): REQUIRED, ("cluster", "nodeDiskSizeGb"): 50,
    ("cluster", "publicAccessCidrs"): [], ("cluster", "logRetentionDays"): 90,
    ("cluster", "addonVersions.vpcCni"): "v1.19.5-eksbuild.3",
    ("cluster", "addonVersions.coredns"): "v1.12.1-eksbuild.2",
    ("cluster", "addonVersions.kubeProxy"): "v1.33.0-eksbuild.2",
    ("cluster", "addonVersions.podIdentityAgent"): "v1.3.7-eksbuild.2", ("cluster", "operators"): [],
    ("etl", "namespace"): "etl", ("etl", "blue.image"): REQUIRED, ("etl", "green.image"): REQUIRED,
    ("etl", "replicas"): REQUIRED, ("etl", "idleReplicas"): None, ("etl", "port"): 8080, ("etl", "cpuRequest"): "250m",
    ("etl", "cpuLimit"): "1", ("etl", "memoryRequest"): "256Mi", ("etl", "memoryLimit"): "512Mi",
    ("etl", "apiKeyNames"): [], ("etl", "databaseUser"): "etl",
    ("frontend", "projectName"): "kingtavo-web", ("frontend", "gitRepository"): REQUIRED,
    ("frontend", "productionBranch"): "main", ("frontend", "rootDirectory"): None, ("frontend", "nodeVersion"): "22.x",
    ("frontend", "skewProtection"): "12 hours", ("frontend", "domain"): REQUIRED, ("frontend", "idleDomain"): REQUIRED,
    ("frontend", "blue.ref"): REQUIRED, ("frontend", "green.ref"): REQUIRED, ("frontend", "publicEnv"): {},
    ("frontend", "serverSecretNames"): [], ("frontend", "webAnalytics"): True, ("frontend", "speedInsights"): True,
    ("frontend", "teamMembers"): [], ("frontend", "onCallGroup"): "on-call",
    ("frontend", "onCallProjectRole"): "PROJECT_VIEWER",
    ("supabase", "projectRef"): REQUIRED, ("supabase", "url"): REQUIRED, ("supabase", "anonKey"): REQUIRED,
    ("supabase", "edgeFunctionSecretNames"): [], ("supabase", "apiUrl"): "https://api.supabase.com",
    ("supabase", "region"): REQUIRED, ("supabase", "connection"): "pooler",
    ("supabase", "databaseHost"): None, ("supabase", "databasePort"): 5432,
    ("supabase", "databaseName"): "postgres", ("supabase", "pitrRetentionDays"): None,
    ("supabase", "sslEnforcement"): True, ("supabase", "restrictNetwork"): True, ("supabase", "allowedCidrs"): [],
    ("supabase", "allowedCidrsV6"): [], ("supabase", "queryLogging.minDurationMs"): -1,
    ("supabase", "queryLogging.explainMinDurationMs"): -1, ("supabase", "queryLogging.roles"): ["postgres"],
    ("supabase", "vaultSecretNames"): [],
    ("secrets", "rotationDays"): 30, ("secrets", "recoveryWindowDays"): 30, ("secrets", "kmsDeletionWindowDays"): 30,
    ("alerting", "slackTeamId"): REQUIRED, ("alerting", "slackChannelId"): REQUIRED,
    ("alerting", "slackChannelName"): REQUIRED, ("alerting", "etlNoSuccessHours"): 6,
    ("alerting", "runbookBaseUrl"): "https://github.com/kingtavo/infrastructure/blob/main/docs/runbooks",
    ("alerting", "prometheusStackVersion"): "91.5.0", ("alerting", "serverErrorSharePercent"): 5.0,
    ("alerting", "serverErrorWindowMinutes"): 5, ("alerting", "databaseCpuThresholdPercent"): 80.0,
    ("alerting", "databaseCpuForMinutes"): 10, ("alerting", "databaseDiskFreeThresholdPercent"): 10.0,
    ("alerting", "heartbeatIntervalMinutes"): 5,
    ("backups", "pointInTimeRecovery"): REQUIRED, ("backups", "dailyRetention"): 7, ("backups", "weeklyRetention"): 4,
    ("backups", "monthlyRetention"): 6, ("backups", "dumpSchedule"): "17 3 * * *", ("backups", "maxBackupAgeHours"): 26,
    ("backups", "maxDumpAgeHours"): 30,
    ("sentry", "organization"): REQUIRED, ("sentry", "team"): REQUIRED, ("sentry", "webPlatform"): "javascript-nextjs",
    ("sentry", "etlPlatform"): "python", ("sentry", "errorRateThresholdPercent"): 5.0,
    ("sentry", "errorBurstCount"): 50, ("sentry", "pagerdutyIntegrationId"): REQUIRED,
    ("sentry", "pagerdutyServiceId"): REQUIRED,
    ("registry", "repositoryName"): "kingtavo/etl",
    ("bootstrap", "stack"): REQUIRED, ("bootstrap", "registryStack"): REQUIRED,
    ("logs", "vercelDrainEndpoint"): REQUIRED,
    ("logs", "vercelDrainSources"): ["build", "edge", "external", "firewall", "lambda", "static"],
    ("logs", "vercelDrainFormat"): "ndjson", ("logs", "vercelDrainSamplingRate"): 1.0,
}
FIELDS = [(plane, path, field) for plane, model in PLANES.items() for path, field in model_fields(model)]
# The secret keys' types as Pulumi.yaml declared them before it was generated.
SECRET_TYPES = {"supabaseServiceRoleKey": "string", "supabaseAccessToken": "string", "sentryAuthToken": "string",
                "pagerdutyIntegrationKey": "string", "pagerdutyCloudwatchIntegrationKey": "string",
                "slackWebhookUrl": "string", "heartbeatUrl": "string", "etlApiKeys": "object",
                "frontendServerSecrets": "object", "edgeFunctionSecrets": "object", "vaultSecrets": "object"}


def committed() -> dict:
    return yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]


def test_committed_pulumi_yaml_is_current():
    assert schema_tool.main(["--check"]) == 0
    assert committed() == config_schema()


def test_check_fails_on_a_stale_file(tmp_path, monkeypatch, capsys):
    stale = tmp_path / "Pulumi.yaml"
    text = (ROOT / "Pulumi.yaml").read_text()
    stale.write_text(text.replace("the cluster's name", "the name of the cluster"))
    monkeypatch.setattr(schema_tool, "PULUMI_YAML", stale)
    assert schema_tool.main(["--check"]) == 1
    assert "stale (cluster)" in capsys.readouterr().err
    assert schema_tool.main([]) == 0  # rewrites it
    assert stale.read_text() == text
    assert schema_tool.main(["--check"]) == 0


def test_check_runs_as_a_module():
    result = subprocess.run([sys.executable, "-m", "tools.schema", "--check"], cwd=ROOT, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_every_field_has_an_expected_default_or_is_required():
    assert {(plane, path) for plane, path, _ in FIELDS} == set(EXPECTED_DEFAULTS)


@pytest.mark.parametrize(("plane", "path", "field"), FIELDS, ids=[f"{p}.{k}" for p, k, _ in FIELDS])
def test_field_default_and_description(plane, path, field):
    default = field_default(field)
    expected = EXPECTED_DEFAULTS[(plane, path)]
    assert (default is PydanticUndefined) == (expected is REQUIRED)
    if expected is not REQUIRED:
        assert default == expected
    assert field.description and len(field.description) > 8, f"{plane}.{path} has no description"
    # Pulumi.yaml says exactly what the model says, default included.
    assert describe_field(path, field) in committed()[plane]["description"]


@pytest.mark.parametrize("key", sorted(SECRET_KEYS))
def test_secret_keys_keep_their_type_and_secret_flag(key):
    spec = committed()[key]
    assert spec["secret"] is True and spec["type"] == SECRET_TYPES[key] and spec["description"]


def test_only_secret_keys_are_secret():
    assert {key for key, spec in committed().items() if spec.get("secret")} == set(SECRET_KEYS)


@pytest.mark.parametrize("plane", sorted(PLANES))
def test_a_plane_with_only_its_required_fields_gets_the_documented_defaults(plane):
    model = PLANES[plane]
    required = {path for (p, path), value in EXPECTED_DEFAULTS.items() if p == plane and value is REQUIRED}
    stack = stack_config(STACKS[0])[f"kingtavo:{plane}"]
    minimal: dict = {}
    for path in required:
        top, *rest = path.split(".")
        minimal[top] = {rest[0]: stack[top][rest[0]]} if rest else stack[top]
    parsed = model.model_validate(minimal)
    for (p, path), value in EXPECTED_DEFAULTS.items():
        if p == plane and value is not REQUIRED:
            node, current = parsed, type(parsed)
            for part in path.split("."):  # nested defaults (cluster.addonVersions.coredns) walk the sub-models
                attribute = next(name for name, f in current.model_fields.items() if (f.alias or name) == part)
                node = getattr(node, attribute)
                current = type(node)
            assert node == value, path
