"""The offline policy gate: every policy over every planned resource, as the engine would, with the pack config.

Planned resources here are the lead's `tools.harness.PlannedResource` (the exact type the
offline plan produces), built by hand so each test shows one behaviour of the gate.
"""

from __future__ import annotations

import dataclasses
import json
import secrets

import pytest
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from policies.rules import POLICIES
from tests.support.plans import STACKS, plan
from tools.harness import PlannedResource
from tools.policy_gate import (
    PACK_CONFIG,
    PackConfigError,
    Violation,
    evaluate,
    format_violations,
    load_pack_config,
    mandatory,
    validate_pack_config,
)
from tools.policy_gate import main as gate_main

STACK = "urn:pulumi:staging::kingtavo"
KMS_ARN = "arn:aws:kms:eu-central-1:111122223333:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


def planned(type_token: str, name: str, inputs: dict, parent: str | None = None) -> PlannedResource:
    return PlannedResource(type=type_token, name=name, urn=f"{STACK}::{type_token}::{name}", inputs=inputs,
                           raw_inputs=inputs, parent=parent, provider="", protect=False, custom=True)


def topic(name: str, **inputs) -> PlannedResource:
    return planned("aws:sns/topic:Topic", name, {"name": name, **inputs})


def secret(name: str, tags: dict | None = None) -> PlannedResource:
    return planned("aws:secretsmanager/secret:Secret", name,
                   {"name": f"kingtavo/staging/{name}", "kmsKeyId": KMS_ARN, "tags": tags or {}})


MANUAL = {"rotation": "manual", "rotation-reason": "vendor console, yearly and on staff changes"}


def compliant_stack() -> list[PlannedResource]:
    component = planned("kingtavo:alerting:AlertRouting", "alerts", {})
    return [component,
            planned("aws:sns/topic:Topic", "alerts-critical", {"kmsMasterKeyId": KMS_ARN}, parent=component.urn),
            planned("aws:kms/key:Key", "platform-key", {"enableKeyRotation": True, "description": "logs"}),
            planned("aws:cloudwatch/logGroup:LogGroup", "flow-logs", {"kmsKeyId": KMS_ARN}),
            secret("stripe", MANUAL)]


def test_a_compliant_plan_has_no_violations():
    assert evaluate(compliant_stack(), load_pack_config()) == []


def test_a_violation_names_policy_level_resource_and_message():
    bad = topic("alerts-warning")
    [violation] = evaluate([*compliant_stack(), bad], load_pack_config())
    assert violation == Violation(
        policy_name="sns-topic-kms-encryption", enforcement_level="mandatory", urn=bad.urn,
        resource_name="alerts-warning",
        message="Topic 'alerts-warning': kmsMasterKeyId is not set, so messages (alert payloads) are stored "
                "unencrypted. Fix: set kms_master_key_id to a customer-managed KMS key whose policy lets CloudWatch "
                "and EventBridge use it.",
        description="SNS topics are encrypted with a customer-managed KMS key.")
    assert mandatory([violation]) == [violation]
    assert violation.as_dict()["urn"] == bad.urn


def test_every_resource_policy_runs_on_every_resource():
    leak = "sk_" + "live_" + secrets.token_hex(12)
    resources = [planned("aws:s3/bucket:Bucket", "backups", {"tags": {"owner": leak}}),
                 planned("aws:iam/role:Role", "etl", {"description": leak}),
                 topic("alerts")]
    found = {(v.policy_name, v.resource_name) for v in evaluate(resources)}
    assert found == {("no-secret-shaped-values", "backups"), ("no-secret-shaped-values", "etl"),
                     ("sns-topic-kms-encryption", "alerts")}


def test_the_stack_policy_runs_once_over_all_resources():
    found = evaluate([secret("stripe"), secret("openai"), secret("legacy", MANUAL)])
    assert sorted((v.policy_name, v.resource_name) for v in found) == [
        ("secretsmanager-rotation", "openai"), ("secretsmanager-rotation", "stripe")]


def test_the_stack_policy_sees_property_dependencies_when_the_plan_records_them():
    database = secret("database")
    rotation_inputs = {"secretId": "database-id"}  # the mock's id: matches neither the secret's name nor ARN
    rotation_type = "aws:secretsmanager/secretRotation:SecretRotation"
    rotation = planned(rotation_type, "database-rotation", rotation_inputs)
    assert [v.resource_name for v in evaluate([database, rotation])] == ["database"]
    tracked = dataclasses.replace(rotation, property_dependencies={"secretId": [database.urn]})
    assert evaluate([database, tracked]) == []


def test_unknown_values_are_not_violations():
    leak_slot = planned("aws:iam/role:Role", "etl", {"description": UNKNOWN_STRING_VALUE,
                                                     "tags": {"owner": UNKNOWN_STRING_VALUE}})
    unknown_key = topic("alerts", kmsMasterKeyId=UNKNOWN_STRING_VALUE)
    assert evaluate([leak_slot, unknown_key]) == []


# --- the pack config --------------------------------------------------------------------------------------


def excepting(policy: str, urn: str, reason: str = "fixture: excepted on purpose for this test") -> dict:
    return {policy: {"exceptions": [{"urn": urn, "reason": reason}]}}


def test_an_exception_silences_one_resource_for_one_rule():
    excepted, other = topic("legacy"), topic("alerts-warning")
    leak = planned("aws:iam/role:Role", "legacy", {"description": "gh" + "p_" + secrets.token_hex(18)})
    found = evaluate([excepted, other, leak], excepting("sns-topic-kms-encryption", excepted.urn))
    assert sorted((v.policy_name, v.resource_name) for v in found) == [
        ("no-secret-shaped-values", "legacy"), ("sns-topic-kms-encryption", "alerts-warning")]


def test_an_exception_for_another_rule_does_not_silence_this_one():
    bad = topic("alerts")
    assert len(evaluate([bad], excepting("kms-key-rotation-enabled", bad.urn))) == 1


@pytest.mark.parametrize(("config", "problem"), [
    ({"no-such-rule": {"exceptions": []}}, "no-such-rule: no such policy in kingtavo-secret-hygiene"),
    (excepting("sns-topic-kms-encryption", f"{STACK}::x::y", reason=""),
     "sns-topic-kms-encryption.exceptions[0].reason: every exception needs a reason"),
    (excepting("sns-topic-kms-encryption", f"{STACK}::aws:sns/topic:Topic::*"),
     "sns-topic-kms-encryption.exceptions[0].urn: expected one resource's exact URN"),
    ({"sns-topic-kms-encryption": {"exceptions": [{"type": "aws:sns/topic:Topic", "reason": "all topics, please"}]}},
     "sns-topic-kms-encryption.exceptions[0]: expected exactly the keys urn and reason"),
    ({"sns-topic-kms-encryption": {"files": ["Pulumi.staging.yaml"]}},
     "sns-topic-kms-encryption.files: not a config property of this policy"),
    ({"sns-topic-kms-encryption": "sometimes"}, "sns-topic-kms-encryption: unknown enforcement level 'sometimes'"),
], ids=["unknown-policy", "no-reason", "wildcard-urn", "per-type", "per-file", "bad-level"])
def test_invalid_pack_configs_are_refused(config, problem):
    with pytest.raises(PackConfigError, match="invalid policy pack config") as raised:
        validate_pack_config(config)
    assert problem in str(raised.value)


def test_the_committed_pack_config_loads(tmp_path):
    assert set(load_pack_config()) == {p.name for p in POLICIES}
    assert load_pack_config(PACK_CONFIG) == json.loads(PACK_CONFIG.read_text())
    broken = tmp_path / "pack-config.json"
    broken.write_text(json.dumps({"sns-topic-kms-encryption": {"exceptions": [{"urn": "x"}]}}))
    with pytest.raises(PackConfigError):
        load_pack_config(broken)


@pytest.mark.parametrize(("config", "expected"), [
    ({"sns-topic-kms-encryption": "advisory"}, ["advisory"]),
    ({"sns-topic-kms-encryption": {"enforcementLevel": "advisory", "exceptions": []}}, ["advisory"]),
    ({"all": "advisory"}, ["advisory"]),
    ({"all": "advisory", "sns-topic-kms-encryption": "mandatory"}, ["mandatory"]),
    ({"sns-topic-kms-encryption": "disabled"}, []),
    ({"sns-topic-kms-encryption": "remediate"}, ["mandatory"]),
], ids=["policy-level", "policy-object", "all", "policy-beats-all", "disabled", "remediate-reports-mandatory"])
def test_enforcement_levels_follow_the_pack_config(config, expected):
    assert [v.enforcement_level for v in evaluate([topic("alerts")], config)] == expected


def test_advisory_violations_do_not_fail_the_gate():
    found = evaluate([topic("alerts")], {"sns-topic-kms-encryption": "advisory"})
    assert len(found) == 1 and mandatory(found) == []


def test_format_violations_for_people():
    bad = topic("alerts")
    text = format_violations(evaluate([bad]))
    assert text.splitlines() == [
        f"    [mandatory] sns-topic-kms-encryption: alerts ({bad.urn})",
        "        Topic 'alerts': kmsMasterKeyId is not set, so messages (alert payloads) are stored unencrypted. Fix: "
        "set kms_master_key_id to a customer-managed KMS key whose policy lets CloudWatch and EventBridge use it."]
    assert format_violations([]) == "kingtavo-secret-hygiene: no violations"


def test_the_gate_never_prints_the_leaked_value():
    leak = "AK" + "IA" + secrets.token_hex(8).upper()
    text = format_violations(evaluate([planned("aws:s3/bucket:Bucket", "backups", {"tags": {"owner": leak}})]))
    assert "AWS access key id" in text and leak not in text


# --- whole stacks, speed, the policies' own config ----------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_whole_stack_plans_are_clean(stack):
    """Speed is measured by `make bench` (tools.bench prints the pack's time per stack), not asserted here."""
    resources = [r for r in plan(stack).resources if not r.read]
    assert len(resources) > 100
    assert evaluate(resources, load_pack_config()) == []


def test_a_leak_in_a_whole_stack_is_caught_and_not_printed():
    leak = "AK" + "IA" + secrets.token_hex(8).upper()
    resources = [r for r in plan("staging").resources if not r.read]
    bucket = next(r for r in resources if r.type == "aws:s3/bucket:Bucket")
    planted = dataclasses.replace(bucket, inputs={**bucket.inputs, "tags": {**bucket.inputs.get("tags", {}),
                                                                            "owner": leak}})
    found = evaluate([planted if r is bucket else r for r in resources], load_pack_config())
    assert [(v.policy_name, v.urn) for v in found] == [("no-secret-shaped-values", bucket.urn)]
    assert leak not in format_violations(found)


@pytest.mark.parametrize(("value", "problem"), [
    (0, "secretsmanager-rotation.maxRotationDays: expected an integer from 1 to 365, got 0"),
    ("90", "secretsmanager-rotation.maxRotationDays: expected an integer"),
    (True, "secretsmanager-rotation.maxRotationDays: expected an integer"),
])
def test_a_bad_rotation_maximum_is_refused(value, problem):
    with pytest.raises(PackConfigError) as raised:
        validate_pack_config({"secretsmanager-rotation": {"exceptions": [], "maxRotationDays": value}})
    assert problem in str(raised.value)


def test_the_rotation_maximum_reaches_the_rule():
    rotation = planned("aws:secretsmanager/secretRotation:SecretRotation", "db-rotation",
                       {"secretId": "x", "rotationRules": {"automaticallyAfterDays": 30}})
    assert evaluate([rotation], {"secretsmanager-rotation": {"maxRotationDays": 60}}) == []
    [violation] = evaluate([rotation], {"secretsmanager-rotation": {"maxRotationDays": 14}})
    assert violation.urn == rotation.urn and "longer than the pack's maximum of 14" in violation.message


def test_the_gate_command_times_a_stack(capsys):
    assert gate_main(["--stack", "production", "--time"]) == 0
    out = capsys.readouterr().out
    assert "kingtavo-secret-hygiene: no violations" in out
    seconds = float(out.split("resources): ")[1].split(" s")[0])
    assert seconds > 0  # the figure itself is for `make bench`, never a pass/fail threshold
