"""The stack rule `secretsmanager-rotation`: automatic rotation, its interval, or a manual rotation's reason."""

from __future__ import annotations

import pytest
from pulumi_policy import StackValidationPolicy
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
