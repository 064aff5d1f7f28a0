"""The stack rule `secretsmanager-rotation`: automatic rotation, its interval, or a manual rotation's reason."""

from __future__ import annotations

import pytest
from pulumi_policy import PolicyResource, StackValidationPolicy
from pulumi_policy.proxy import UNKNOWN_OBJECT_VALUE, UNKNOWN_STRING_VALUE

from policies.rules import POLICIES
from tests.support.policy_fixtures import (
    ROTATION,
    secret_resource,
    stack_resource,
    stack_violations,
)

# --- Secrets Manager: rotation (stack) --------------------------------------------------------------------

ROTATION_FIX = ("Fix: add an aws.secretsmanager.SecretRotation for it, or tag it rotation=manual with a "
                "rotation-reason tag saying who rotates it by hand and how.")


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


# --- the reason must say something, the interval is bounded (issue 17) --------------------------------------


@pytest.mark.parametrize("reason", ["n/a", "-", ".", "N/A", "tbd", "todo"])
def test_rotation_fails_for_placeholder_reasons(reason):
    manual = secret_resource("stripe", {"rotation": "manual", "rotation-reason": reason})
    assert stack_violations("secretsmanager-rotation", [manual]) == [
        (manual.urn, f"Secret 'stripe': tags.rotation is 'manual' but tags.rotation-reason gives no reason. "
                     f"{ROTATION_FIX}")]


def test_rotation_fails_for_a_short_reason():
    manual = secret_resource("stripe", {"rotation": "manual", "rotation-reason": "by hand yearly"})
    assert stack_violations("secretsmanager-rotation", [manual]) == [
        (manual.urn, "Secret 'stripe': tags.rotation is 'manual' but tags.rotation-reason is shorter than 20 "
                     f"characters, too short to say who rotates it and how. {ROTATION_FIX}")]


@pytest.mark.parametrize("reason", ["n/a for now, will do it later", "TBD by the platform team next quarter",
                                    "todo: decide who rotates this one"])
def test_rotation_fails_for_a_long_reason_that_is_a_placeholder(reason):
    manual = secret_resource("stripe", {"rotation": "manual", "rotation-reason": reason})
    [(urn, message)] = stack_violations("secretsmanager-rotation", [manual])
    assert urn == manual.urn and "tags.rotation-reason is a placeholder, not a reason" in message


def test_the_minimum_reason_length_is_pack_config():
    manual = secret_resource("stripe", {"rotation": "manual", "rotation-reason": "Stripe dashboard, yearly"})
    assert stack_violations("secretsmanager-rotation", [manual]) == []
    [(_, message)] = stack_violations("secretsmanager-rotation", [manual], {"minReasonLength": 40})
    assert "is shorter than 40 characters" in message


def rotation_every(database: PolicyResource, rules: dict) -> PolicyResource:
    return stack_resource(ROTATION, "database-rotation", {"secretId": database.props["arn"], "rotationRules": rules})


INTERVAL_FIX = "Fix: set rotation_rules.automatically_after_days to at most {max}."


@pytest.mark.parametrize(("rules", "days"), [
    ({"automaticallyAfterDays": 1000}, "1000"),
    ({"scheduleExpression": "rate(120 days)"}, "120"),
    ({"scheduleExpression": "rate(2400 hours)"}, "100"),
], ids=["days", "rate-days", "rate-hours"])
def test_rotation_fails_when_the_interval_is_too_long(rules, days):
    database = secret_resource("database")
    rotation = rotation_every(database, rules)
    assert stack_violations("secretsmanager-rotation", [database, rotation]) == [
        (rotation.urn, f"SecretRotation 'database-rotation': rotationRules rotate every {days} days, longer than the "
                       f"pack's maximum of 90. {INTERVAL_FIX.format(max=90)}")]


def test_the_maximum_interval_is_pack_config():
    database = secret_resource("database")
    rotation = rotation_every(database, {"automaticallyAfterDays": 30})
    assert stack_violations("secretsmanager-rotation", [database, rotation]) == []
    assert stack_violations("secretsmanager-rotation", [database, rotation_every(database, {
        "automaticallyAfterDays": 90})]) == []
    [(urn, message)] = stack_violations("secretsmanager-rotation", [database, rotation], {"maxRotationDays": 14})
    assert urn == rotation.urn and message.endswith(f"maximum of 14. {INTERVAL_FIX.format(max=14)}")


def test_an_unknown_interval_is_not_a_violation():
    database = secret_resource("database")
    rotation = rotation_every(database, {"automaticallyAfterDays": UNKNOWN_STRING_VALUE})
    assert stack_violations("secretsmanager-rotation", [database, rotation]) == []
