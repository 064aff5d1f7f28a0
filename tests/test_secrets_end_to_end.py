"""Secrets end to end: no secret value reaches a resource input or a stack output unless marked secret.

Both stacks run offline with fake secret config (`result.secrets`) and fake generated passwords
(the mocks' `random` results). The walker goes through every resource's raw inputs, where
Pulumi's secret wrappers are still visible, and through every stack output, and reports each
place a secret value (or its base64 form, as Kubernetes `data` would carry it) appears in the
clear. The planted tests show the walker finds a leak, both in a hand-made structure and in the
real program given a secret that is also used as a plain setting.
"""

from __future__ import annotations

import base64
import secrets
from typing import Any

import pytest

from tests.support.plans import STACKS, plan
from tests.support.secret_walk import (
    RANDOM_PASSWORD,
    _contains_secret,
    _strings,
    find_leaks,
    output_leaks,
    resource_leaks,
    secret_values,
)
from tools.harness import build_config, is_secret_wrapper, run_stack

SECRET_SIGNATURE = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"}


# --- the program ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_the_run_uses_secrets_so_the_walk_means_something(stack):
    result = plan(stack)
    needles = secret_values(result)
    assert len(needles) >= 8, "expected every declared secret (and its map entries) to have a fake value"
    assert result.by_type(RANDOM_PASSWORD), "expected a generated database password"
    # the secrets do reach resources: wrapped, in the inputs that store them
    wrapped = [r for r in result.resources if _wrapped_secret_inputs(r.raw_inputs, needles)]
    assert len(wrapped) >= 3


@pytest.mark.parametrize("stack", STACKS)
def test_no_secret_value_in_any_resource_input_unless_marked_secret(stack):
    assert resource_leaks(plan(stack)) == []


@pytest.mark.parametrize("stack", STACKS)
def test_no_secret_value_in_a_plain_stack_output(stack):
    assert output_leaks(plan(stack)) == []


@pytest.mark.parametrize("stack", STACKS)
def test_the_generated_database_password_reaches_only_its_secret_version(stack):
    result = plan(stack)
    password = result.one(RANDOM_PASSWORD, "secrets-database-password").outputs["result"]
    holders = [r.name for r in result.resources if _wrapped_secret_inputs(r.raw_inputs, {password})]
    assert holders == ["secrets-database-value"]


def _wrapped_secret_inputs(value: Any, needles: set[str]) -> bool:
    """True when a secret value sits under a secret wrapper somewhere in `value`."""
    if is_secret_wrapper(value):
        return any(_contains_secret(text, needles) for text in _strings(value["value"]))
    if isinstance(value, dict):
        return any(_wrapped_secret_inputs(item, needles) for item in value.values())
    if isinstance(value, list):
        return any(_wrapped_secret_inputs(item, needles) for item in value)
    return False


# --- the walker can fail ---------------------------------------------------------------------------------------


def test_walker_reports_plain_nested_and_base64_leaks_and_spares_wrapped_ones():
    token = "fake-" + secrets.token_hex(12)
    structure = {
        "tags": {"owner": f"team-{token}", f"kubernetes.io/cluster/{token}": "shared"},
        "env": [{"name": "A", "value": "plain"}, {"name": "B", "value": token}],
        "data": {"key": base64.b64encode(token.encode()).decode()},
        "stored": {**SECRET_SIGNATURE, "value": token},
        "nestedStored": {**SECRET_SIGNATURE, "value": {"inner": [token]}},
    }
    assert sorted(find_leaks(structure, {token})) == [
        ".data.key", ".env[1].value", f".tags.kubernetes.io/cluster/{token} (key)", ".tags.owner"]
    assert find_leaks({"stored": {**SECRET_SIGNATURE, "value": token}}, {token}) == []


def test_walker_catches_a_secret_planted_in_a_plain_setting_of_the_real_program():
    """A secret that is also the cluster name ends up in names, tags and the clusterName output."""
    planted = "fake-planted-" + secrets.token_hex(6)
    _, fakes = build_config("staging")
    result = run_stack("staging", [f"cluster.name={planted}"], secrets={**fakes, "kingtavo:sentryAuthToken": planted})
    leaks = resource_leaks(result)
    assert any(leak.startswith("aws:eks/cluster:Cluster cluster-eks.name") for leak in leaks), leaks
    assert any(".tags.kubernetes.io/cluster/" in leak for leak in leaks), leaks
    assert "output clusterName" in output_leaks(result)
