"""The pack's shape: every policy mandatory, described, configurable per resource; the committed config."""

from __future__ import annotations

import json

from pulumi_policy import EnforcementLevel

from policies.rules import POLICIES
from tests.support.policy_fixtures import (
    POLICY,
    ROOT,
)

# --- the pack's shape -------------------------------------------------------------------------------------


def test_every_policy_is_mandatory_named_described_and_takes_per_resource_exceptions():
    assert len(POLICY) == len(POLICIES)
    for policy in POLICIES:
        assert policy.enforcement_level == EnforcementLevel.MANDATORY, policy.name
        assert policy.description.endswith("."), policy.name
        assert policy.remediation_steps, policy.name
        expected = {"exceptions", "maxRotationDays", "minReasonLength"} if policy.name == "secretsmanager-rotation" \
            else {"exceptions"}
        assert set(policy.config_schema.properties) == expected, policy.name
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
