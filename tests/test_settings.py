"""Stack settings: every way to break a setting is named, all problems at once, and nothing is registered."""

from __future__ import annotations

import pytest
import yaml

from components.core import settings as settings_module
from components.core.settings import PLANES, SECRET_KEYS, SettingsError
from tools.harness import ROOT, build_config, fake_secrets, run_stack, stack_config

# (stack, override, the exact problem line expected)
BROKEN = [
    ("staging", "activeColor=red", "kingtavo:activeColor: 'red' is not a color (expected 'blue' or 'green')"),
    ("staging", "activeColor=~", "kingtavo:activeColor: is required (expected 'blue' or 'green')"),
    ("staging", "network.cidr=10.0.0.0/33", "kingtavo:network.cidr: '10.0.0.0/33' is not an IPv4 CIDR"),
    ("staging", "network.cidr=10.0.0.1/16", "kingtavo:network.cidr: '10.0.0.1/16' is not an IPv4 CIDR"),
    ("staging", "network.azCount=1", "kingtavo:network.azCount: Input should be greater than or equal to 2 (got 1)"),
    ("staging", "network.azCount=7", "kingtavo:network.azCount: Input should be less than or equal to 6 (got 7)"),
    ("staging", "network.azCount=three",
     "kingtavo:network.azCount: Input should be a valid integer (got 'three')"),  # strict: "3" is refused too
    ("staging", "network.natGateways=both",
     "kingtavo:network.natGateways: Input should be 'single' or 'per_az' (got 'both')"),
    ("staging", "network.subnetPrefixLength=16",
     "kingtavo:network.subnetPrefixLength: /16 must be longer than the VPC's /16"),
    ("staging", "network.subnetPrefixLength=17",
     "kingtavo:network.subnetPrefixLength: 10.10.0.0/16 holds 2 /17 subnets but 4 are needed (a public and a "
     "private one in each of 2 zones)"),
    ("production", "network.subnetPrefixLength=18",
     "kingtavo:network.subnetPrefixLength: 10.20.0.0/16 holds 4 /18 subnets but 6 are needed (a public and a "
     "private one in each of 3 zones)"),
    ("staging", "network.flowLogRetentionDays=42",
     "kingtavo:network.flowLogRetentionDays: 42 is not a CloudWatch Logs retention period (one of 1, 3, 5, 7, 14, "
     "30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)"),
    ("staging", "network.cdir=10.0.0.0/16",
     "kingtavo:network.cdir: is not a known setting (did you mean 'cidr'?) (check the spelling against Pulumi.yaml)"),
    ("staging", "netwrk.cidr=10.0.0.0/16",
     "kingtavo:netwrk: is not a known setting (did you mean 'network'?) (check the spelling against Pulumi.yaml)"),
    ("staging", "network=~",
     "kingtavo:network: is required (an object in Pulumi.<stack>.yaml; see Pulumi.yaml for its fields)"),
    ("production", "network.natGateways=single",
     "kingtavo:network.natGateways: production needs a NAT gateway per zone (expected 'per_az'), got 'single'"),
    ("staging", "cluster.kubernetesVersion='1.20'",
     "kingtavo:cluster.kubernetesVersion: '1.20' is not a Kubernetes version EKS offers (one of 1.32, 1.33, 1.34, "
     "1.35, as of 2026-12-01)"),
    ("staging", "cluster.kubernetesVersion=1.30",
     "kingtavo:cluster.kubernetesVersion: Input should be a valid string (got 1.3)"),
    ("staging", "cluster.nodeMinSize=3",
     "kingtavo:cluster.nodeDesiredSize: expected nodeMinSize <= nodeDesiredSize <= nodeMaxSize, got 3 <= 2 <= 3"),
    ("staging", "cluster.nodeInstanceTypes=[]",
     "kingtavo:cluster.nodeInstanceTypes: List should have at least 1 item after validation, not 0 (got [])"),
    ("staging", "cluster.publicAccessCidrs=[0.0.0.0/0]",
     "kingtavo:cluster.publicAccessCidrs: must not contain 0.0.0.0/0; list the operators' and CI's ranges"),
    ("staging", "cluster.publicAccessCidrs=[300.1.2.0/24]",
     "kingtavo:cluster.publicAccessCidrs.0: '300.1.2.0/24' is not an IPv4 CIDR"),
    ("production", "cluster.nodeMinSize=1",
     "kingtavo:cluster.nodeMinSize: production needs at least 2 nodes for high availability, got 1"),
    ("staging", "etl.blue.image=registry.example.com/kingtavo/etl:latest",
     "kingtavo:etl.blue.image: 'registry.example.com/kingtavo/etl:latest' uses the mutable tag 'latest'; pin a "
     "release tag or a digest"),
    ("staging", "etl.green.image=kingtavo/etl",
     "kingtavo:etl.green.image: 'kingtavo/etl' is not an image pinned by tag or digest (registry/repo:tag or "
     "repo@sha256:...)"),
    ("staging", "etl.cpuLimit=lots", "kingtavo:etl.cpuLimit: 'lots' is not a CPU quantity such as '250m' or '1'"),
    ("staging", "etl.memoryLimit=1GB",
     "kingtavo:etl.memoryLimit: '1GB' is not a memory quantity such as '512Mi' or '2Gi'"),
    ("staging", "etl.replicas=0", "kingtavo:etl.replicas: Input should be greater than or equal to 1 (got 0)"),
    ("staging", "frontend.domain=Not_A_Domain",
     "kingtavo:frontend.domain: 'Not_A_Domain' is not a lower-case DNS name such as 'app.example.com'"),
    ("staging", "frontend.idleDomain=staging.kingtavo.com",
     "kingtavo:frontend.idleDomain: must differ from domain ('staging.kingtavo.com')"),
    ("staging", "frontend.publicEnv.PAYMENTS_SECRET_KEY=not-public",
     "kingtavo:frontend.publicEnv.PAYMENTS_SECRET_KEY: looks like a secret; public values are shipped to every "
     "browser, so put it in serverSecretNames and its value in secret config"),
    ("staging", "frontend.serverSecretNames=[NEXT_PUBLIC_STRIPE_KEY]",
     "kingtavo:frontend.serverSecretNames: NEXT_PUBLIC_STRIPE_KEY starts with NEXT_PUBLIC_ and would be shipped to "
     "every browser; a server-side secret must not be NEXT_PUBLIC_"),
    ("staging", "frontend.publicEnv.NEXT_PUBLIC_SENTRY_DSN=https://example.invalid/1",
     "kingtavo:frontend.publicEnv.NEXT_PUBLIC_SENTRY_DSN: is set by the program from the Sentry web project's key; "
     "remove it here"),
    ("staging", "frontend.serverSecretNames=[SENTRY_AUTH_TOKEN]",
     "kingtavo:frontend.serverSecretNames: SENTRY_AUTH_TOKEN is set by the program from kingtavo:sentryAuthToken; "
     "remove it here"),
    ("staging", "frontend.skewProtection=2 hours",
     "kingtavo:frontend.skewProtection: Input should be '30 minutes', '4 hours', '12 hours', '1 day' or '7 days' "
     "(got '2 hours')"),
    ("staging", "frontend.blue.ref=bad..ref",
     "kingtavo:frontend.blue.ref: 'bad..ref' is not a Git ref (a branch, tag or commit SHA)"),
    ("staging", "supabase.projectRef=ABC",
     "kingtavo:supabase.projectRef: String should match pattern '^[a-z]{20}$' (got 'ABC')"),
    ("staging", "supabase.url=http://insecure.example.com",
     "kingtavo:supabase.url: 'http://insecure.example.com' is not an https:// URL"),
    ("staging", "supabase.edgeFunctionSecretNames=[SUPABASE_DB_URL]",
     "kingtavo:supabase.edgeFunctionSecretNames: SUPABASE_DB_URL starts with SUPABASE_, a prefix Supabase reserves "
     "for its own secrets"),
    ("staging", "secrets.recoveryWindowDays=3",
     "kingtavo:secrets.recoveryWindowDays: Input should be greater than or equal to 7 (got 3)"),
    ("staging", "alerting.slackChannelName=alerts",
     "kingtavo:alerting.slackChannelName: String should match pattern '^#[a-z0-9_-]+$' (got 'alerts')"),
    ("staging", "backups.dailyRetention=0",
     "kingtavo:backups.dailyRetention: Input should be greater than or equal to 1 (got 0)"),
    ("production", "backups.pointInTimeRecovery=false",
     "kingtavo:backups.pointInTimeRecovery: production requires point-in-time recovery (expected true)"),
    ("staging", "sentry.pagerdutyServiceId=0",
     "kingtavo:sentry.pagerdutyServiceId: Input should be greater than or equal to 1 (got 0)"),
    ("staging", "sentry.pagerdutyIntegrationId=~", "kingtavo:sentry.pagerdutyIntegrationId: is required"),
    ("production", "sentry.pagerdutyIntegrationId=abc",
     "kingtavo:sentry.pagerdutyIntegrationId: Input should be a valid integer (got 'abc')"),
    ("staging", "logs=~",
     "kingtavo:logs: is required (an object in Pulumi.<stack>.yaml; see Pulumi.yaml for its fields)"),
    ("staging", "logs.vercelDrainEndpoint=~", "kingtavo:logs.vercelDrainEndpoint: is required"),
    ("staging", "logs.vercelDrainEndpoint=http://log-intake.kingtavo.com/vercel",
     "kingtavo:logs.vercelDrainEndpoint: 'http://log-intake.kingtavo.com/vercel' is not an https:// URL"),
    ("staging", "logs.vercelDrainSources=[stdout]",
     "kingtavo:logs.vercelDrainSources.0: Input should be 'build', 'edge', 'external', 'firewall', 'lambda', "
     "'redirect' or 'static' (got 'stdout')"),
    ("staging", "logs.vercelDrainSources=[]",
     "kingtavo:logs.vercelDrainSources: List should have at least 1 item after validation, not 0 (got [])"),
    ("staging", "logs.vercelDrainSources=[lambda, edge, lambda]",
     "kingtavo:logs.vercelDrainSources: lambda listed more than once"),
    ("staging", "logs.vercelDrainFormat=syslog",
     "kingtavo:logs.vercelDrainFormat: Input should be 'json' or 'ndjson' (got 'syslog')"),
    ("production", "logs.vercelDrainSamplingRate=0",
     "kingtavo:logs.vercelDrainSamplingRate: Input should be greater than 0 (got 0)"),
]


def _problems(stack: str, overrides: list[str], secrets: dict | None = None) -> tuple[list[str], list]:
    with pytest.raises(SettingsError) as caught:
        run_stack(stack, overrides, secrets=secrets)
    return caught.value.problems, caught.value.registered_resources


@pytest.mark.parametrize(("stack", "override", "expected"), BROKEN, ids=[b[1] for b in BROKEN])
def test_each_broken_setting_is_named_and_nothing_is_registered(stack, override, expected):
    problems, registered = _problems(stack, [override])
    assert problems == [expected]
    assert registered == []


def test_a_variable_is_public_or_secret_not_both():
    problems, registered = _problems("staging", ["frontend.publicEnv.FEATURE_FLAGS=enabled",
                                                 "frontend.serverSecretNames=[STRIPE_SECRET_KEY, FEATURE_FLAGS]"])
    assert problems == ["kingtavo:frontend.serverSecretNames: FEATURE_FLAGS is also in publicEnv; a variable is "
                        "public or secret, not both"]
    assert registered == []


def test_several_problems_are_reported_together():
    overrides = ["network.cidr=10.0.0.0/33", "activeColor=purple", "etl.blue.image=etl:latest",
                 "frontend.publicEnv.GITHUB_TOKEN=x", "cluster.nodeMaxSize=1"]
    problems, registered = _problems("staging", overrides)
    keys = [problem.split(": ", 1)[0] for problem in problems]
    assert keys == ["kingtavo:activeColor", "kingtavo:cluster.nodeDesiredSize", "kingtavo:etl.blue.image",
                    "kingtavo:frontend.publicEnv.GITHUB_TOKEN", "kingtavo:network.cidr"]
    assert registered == []


def _config_and_fakes(stack: str) -> tuple[dict, dict]:
    config, fakes = build_config(stack)
    return config, fakes


@pytest.mark.parametrize("secret_key", sorted(k for k, names in SECRET_KEYS.items() if names is None))
def test_a_missing_secret_is_named(secret_key):
    _, fakes = _config_and_fakes("staging")
    del fakes[f"kingtavo:{secret_key}"]
    problems, registered = _problems("staging", [], secrets=fakes)
    assert problems == [f"kingtavo:{secret_key}: is required (set it with `pulumi config set --secret {secret_key}`)"]
    assert registered == []


def test_a_missing_entry_of_a_secret_map_is_named():
    _, fakes = _config_and_fakes("production")
    del fakes["kingtavo:etlApiKeys"]["OPENAI_API_KEY"]
    problems, _ = _problems("production", [], secrets=fakes)
    assert problems == ["kingtavo:etlApiKeys.OPENAI_API_KEY: is required by kingtavo:etl.apiKeyNames (set it with "
                        "`pulumi config set --secret --path 'etlApiKeys.OPENAI_API_KEY'`)"]


def test_an_unlisted_secret_map_entry_is_named():
    _, fakes = _config_and_fakes("staging")
    fakes["kingtavo:edgeFunctionSecrets"]["STRAY_TOKEN"] = "fake-stray"
    problems, _ = _problems("staging", [], secrets=fakes)
    assert problems == ["kingtavo:edgeFunctionSecrets.STRAY_TOKEN: is not listed in "
                        "kingtavo:supabase.edgeFunctionSecretNames; list it there or remove it"]


def test_a_malformed_secret_never_echoes_its_value():
    _, fakes = _config_and_fakes("staging")
    leaked = "fake-value-that-must-not-be-printed"
    fakes["kingtavo:etlApiKeys"] = {"lower_case_name": leaked}
    fakes["kingtavo:slackWebhookUrl"] = "   "
    problems, _ = _problems("staging", [], secrets=fakes)
    assert "kingtavo:etlApiKeys: 'lower_case_name' is not an UPPER_SNAKE_CASE name" in problems
    assert ("kingtavo:slackWebhookUrl: expected a non-empty secret string (set it with `pulumi config set --secret`)"
            in problems)
    assert not any(leaked in problem for problem in problems)


def test_a_stack_other_than_staging_or_production_is_refused():
    from components.core.settings import load_settings

    config, fakes = build_config("staging")
    values = {key: value for key, value in {**config, **fakes}.items()}
    with pytest.raises(SettingsError) as caught:
        load_settings("dev", read=values.get)
    assert caught.value.problems == ["stack 'dev': expected one of staging, production (the environment is the "
                                     "stack name)"]


def test_secret_repr_is_masked():
    secret = settings_module.Secret("fake-shown-nowhere")
    assert repr(secret) == "Secret(****)" and str(secret) == "Secret(****)"
    assert "fake-shown-nowhere" not in repr({"k": secret})


def test_pulumi_yaml_declares_every_setting_the_program_reads_and_nothing_else():
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    declared = project["config"]
    program_keys = {*PLANES, *SECRET_KEYS, "activeColor"}
    assert set(declared) == program_keys
    for key, spec in declared.items():
        assert spec.get("description"), f"{key} has no description"
        assert spec.get("type") in ("string", "object"), f"{key} has no type"
        assert bool(spec.get("secret")) == (key in SECRET_KEYS), f"{key}: secret flag wrong"


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_stack_files_hold_every_plane_and_no_secret(stack):
    config = stack_config(stack)
    assert config["kingtavo:activeColor"] in ("blue", "green")
    assert {f"kingtavo:{plane}" for plane in PLANES} <= set(config)
    assert not {f"kingtavo:{key}" for key in SECRET_KEYS} & set(config)
    assert fake_secrets(stack, config), "the offline plan generates every secret"
