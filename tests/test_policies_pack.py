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


def test_the_pack_requirements_install_what_the_pack_imports():
    """`pulumi preview --policy-pack policies` installs policies/requirements.txt: it must cover every import."""
    import ast
    import sys
    from importlib.metadata import packages_distributions

    imported: set[str] = set()
    for path in (ROOT / "policies").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
    own = {"policies", "catalogue", "rules", "base"}
    third_party = imported - set(sys.stdlib_module_names) - own
    distributions = packages_distributions()
    requirements = (ROOT / "policies" / "requirements.txt").read_text().split()
    pinned = {line.split("==")[0].lower().replace("_", "-") for line in requirements if "==" in line}
    assert third_party, "the pack imports something"
    for module in sorted(third_party):
        names = {d.lower().replace("_", "-") for d in distributions[module]}
        assert names & pinned, f"{module} is not pinned in the pack's requirements"
