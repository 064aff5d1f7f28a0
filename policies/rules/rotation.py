"""Rotation: every Secrets Manager secret is rotated automatically, often enough, or by hand for a stated reason.

Pack config (`policies/pack-config.json`, under `secretsmanager-rotation`): `maxRotationDays` (default 90),
the longest automatic interval allowed; `minReasonLength` (default 20), the shortest `rotation-reason` that
can say who rotates the secret and how. A reason made of placeholder words (`n/a`, `-`, `tbd`) is no reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)

from ..catalogue import is_placeholder
from .aws import SECRETS_MANAGER_SECRET
from .base import EXCEPTIONS_PROPERTY, UNKNOWN, Subject, exception_reason, plain

SECRET_ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"
ROTATION_TAG = "rotation"
ROTATION_MANUAL = "manual"
ROTATION_REASON_TAG = "rotation-reason"
DEFAULT_MAX_DAYS = 90
DEFAULT_MIN_REASON = 20
PLACEHOLDER_WORDS = frozenset({"n/a", "na", "none", "tbd", "todo", "tba", "fixme", "xxx", "later", "unknown",
                               "placeholder", "changeme", "whatever", "asdf", "lorem", "ipsum", "manual", "manually",
                               "foo", "bar", "test", "reason", "see", "below", "above", "-", ".", "?"})
RATE = re.compile(r"^rate\((\d+)\s+(day|days|hour|hours)\)$")
SCHEMA = PolicyConfigSchema(properties={
    "exceptions": EXCEPTIONS_PROPERTY,
    "maxRotationDays": {"type": "integer", "minimum": 1, "maximum": 365, "default": DEFAULT_MAX_DAYS,
                        "description": "The longest automatic rotation interval allowed, in days."},
    "minReasonLength": {"type": "integer", "minimum": 10, "maximum": 200, "default": DEFAULT_MIN_REASON,
                        "description": "The shortest rotation-reason tag accepted for a manually rotated secret."},
})


def reason_problem(reason: Any, min_length: int) -> str | None:
    """Why a `rotation-reason` is not a reason (missing, too short, placeholder words), or None."""
    if not isinstance(reason, str) or is_placeholder(reason) or not re.search(r"[A-Za-z0-9]", reason):
        return "gives no reason"
    words = [w.strip(".,;:!()'\"").lower() for w in reason.split()]
    filler = [w for w in words if w in PLACEHOLDER_WORDS or not w]
    if len(reason.strip()) < min_length:
        return f"is shorter than {min_length} characters, too short to say who rotates it and how"
    if filler and len(filler) * 2 >= len(words) or any(w in ("n/a", "tbd", "todo", "fixme", "xxx") for w in words):
        return "is a placeholder, not a reason"
    return None


def interval_days(props: dict) -> float | None:
    """The automatic rotation interval in days (`automaticallyAfterDays` or `rate(...)`), None when unknown/cron."""
    rules = props.get("rotationRules")
    rules = rules[0] if isinstance(rules, list) and rules else rules
    if not isinstance(rules, dict):
        return None
    days = rules.get("automaticallyAfterDays")
    if isinstance(days, int | float) and not isinstance(days, bool):
        return float(days)
    match = RATE.match(str(rules.get("scheduleExpression") or "").strip())
    if match:
        return int(match.group(1)) / (24 if match.group(2).startswith("hour") else 1)
    return None


def _rotated_secret_urns(resources: Sequence[Any]) -> set[str]:
    """URNs of the secrets some SecretRotation rotates: by the engine's property dependency or by id/ARN/name."""
    secrets = [r for r in resources if r.resource_type == SECRETS_MANAGER_SECRET]
    rotated: set[str] = set()
    for rotation in (r for r in resources if r.resource_type == SECRET_ROTATION):
        for dependency in (rotation.property_dependencies or {}).get("secretId", []):
            rotated.add(dependency.urn)
        target = plain(rotation.props).get("secretId")
        for secret in secrets:
            props = plain(secret.props)
            if isinstance(target, str) and target in {props.get("id"), props.get("arn"), props.get("name")}:
                rotated.add(secret.urn)
    return rotated


def _problems(args: StackValidationArgs) -> Iterator[tuple[str, str]]:
    config = args.get_config() or {}
    max_days = config.get("maxRotationDays") or DEFAULT_MAX_DAYS
    min_reason = config.get("minReasonLength") or DEFAULT_MIN_REASON
    rotated = _rotated_secret_urns(args.resources)
    fix = (f"add an aws.secretsmanager.SecretRotation for it, or tag it {ROTATION_TAG}={ROTATION_MANUAL} with a "
           f"{ROTATION_REASON_TAG} tag saying who rotates it by hand and how")
    for resource in args.resources:
        if exception_reason(config, resource.urn):
            continue
        subject = Subject(resource.resource_type, resource.name, resource.urn, plain(resource.props))
        if resource.resource_type == SECRET_ROTATION:
            days = interval_days(subject.props)
            if days is not None and days > max_days:
                yield resource.urn, subject.say(
                    f"rotationRules rotate every {days:g} days, longer than the pack's maximum of {max_days}",
                    f"set rotation_rules.automatically_after_days to at most {max_days}")
            continue
        if resource.resource_type != SECRETS_MANAGER_SECRET or resource.urn in rotated:
            continue
        tags = subject.props.get("tags")
        if tags is UNKNOWN:
            continue
        tags = tags if isinstance(tags, dict) else {}
        if tags.get(ROTATION_TAG) != ROTATION_MANUAL:
            yield resource.urn, subject.say(
                "has no SecretRotation and no tags.rotation='manual', so nothing ever rotates it", fix)
            continue
        reason = tags.get(ROTATION_REASON_TAG)
        if reason is UNKNOWN:
            continue
        problem = reason_problem(reason, min_reason)
        if problem:
            yield resource.urn, subject.say(
                f"tags.{ROTATION_TAG} is '{ROTATION_MANUAL}' but tags.{ROTATION_REASON_TAG} {problem}", fix)


def check_secret_rotation(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    for urn, message in _problems(args):
        report_violation(message, urn)


POLICY = StackValidationPolicy(
    name="secretsmanager-rotation",
    description="Every Secrets Manager secret is rotated by a SecretRotation at most maxRotationDays apart, or is "
                "tagged rotation=manual with a rotation-reason that says who rotates it and how.",
    validate=check_secret_rotation, enforcement_level=EnforcementLevel.MANDATORY, config_schema=SCHEMA,
    remediation_steps="Add a SecretRotation, or tag the secret rotation=manual and rotation-reason=<who and how>.")
