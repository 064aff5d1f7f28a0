"""The reserved-name tables (components/core/reserved.py) match what the program really sets.

Settings refuse a name the program sets only if the table lists it, so these tests read the names
from the planned resources of every stack: a new program-set name that is not reserved fails here.
"""

from __future__ import annotations

import pytest

from components.alerting.monitoring import MONITORING_NAMESPACE
from components.backups.dump_job import BackupDumpJobArgs
from components.core import regions, reserved
from components.core.environments import STACKS
from components.secrets.external_secrets import ESO_NAMESPACE
from tests.support.plans import plan
from tools import mocks
from tools.harness import stack_config

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
VERCEL_VARIABLE = "vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable"


@pytest.mark.parametrize("stack", STACKS)
def test_every_variable_in_the_etl_container_is_reserved_or_an_api_key(stack):
    result = plan(stack)
    api_keys = set(stack_config(stack)["kingtavo:etl"]["apiKeyNames"])
    names = set()
    for deployment in result.by_type(DEPLOYMENT):
        if deployment.name.startswith("etl-"):
            for container in deployment.inputs["spec"]["template"]["spec"]["containers"]:
                names |= {env["name"] for env in container.get("env", [])}
    names |= set(result.one(CONFIG_MAP, "etl-config").inputs["data"])
    assert names - api_keys == set(reserved.ETL_ENV)


@pytest.mark.parametrize("stack", STACKS)
def test_every_vercel_variable_is_reserved_or_a_setting(stack):
    result = plan(stack)
    frontend = stack_config(stack)["kingtavo:frontend"]
    from_settings = set(frontend.get("publicEnv", {})) | set(frontend.get("serverSecretNames", []))
    keys = {r.inputs["key"] for r in result.by_type(VERCEL_VARIABLE)}
    assert keys - from_settings == set(reserved.PROGRAM_SET_VARIABLES)


@pytest.mark.parametrize("stack", STACKS)
def test_every_namespace_another_component_creates_is_reserved(stack):
    result = plan(stack)
    etl_namespace = stack_config(stack)["kingtavo:etl"]["namespace"]
    created = {r.inputs["metadata"]["name"] for r in result.by_type("kubernetes:core/v1:Namespace")}
    assert created - {etl_namespace} <= set(reserved.RESERVED_NAMESPACES)
    assert {ESO_NAMESPACE, MONITORING_NAMESPACE, BackupDumpJobArgs.namespace} <= set(reserved.RESERVED_NAMESPACES)


@pytest.mark.parametrize("stack", STACKS)
def test_the_etl_secret_resource_names_the_program_uses_are_reserved(stack):
    result = plan(stack)
    api_slugs = {name.lower().replace("_", "-") for name in stack_config(stack)["kingtavo:etl"]["apiKeyNames"]}
    secrets = {r.name.removeprefix("secrets-") for r in result.by_type("aws:secretsmanager/secret:Secret")
               if r.name.startswith("secrets-")}
    assert secrets - api_slugs == set(reserved.ETL_SECRET_SLUGS)


def test_the_mock_engine_offers_the_zones_settings_check():
    # Until tools/mocks.py imports components/core/regions.py, the two tables must agree.
    assert mocks.REGION_ZONES == regions.REGION_ZONES
