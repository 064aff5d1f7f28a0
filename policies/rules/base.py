"""How every rule reads a resource: plain props, the subject, messages, per-resource exceptions.

- Props arrive camelCased and, through the engine, with secrets unwrapped (a policy cannot tell a secret from
  a literal, pulumi/pulumi-policy#241). Where the SDK does mark one (`pulumi_policy.secret.Secret`, as on its
  remediation path), `plain()` turns it into `SECRET`: a Pulumi secret at an input is never a violation.
  Everywhere else values are judged by shape and names by wording (`policies/catalogue.py`), and fields made
  for secrets (Secrets Manager, Kubernetes Secret, sensitive Vercel values...) are where secrets belong.
- During preview a value computed from another resource is unknown. The SDK's proxy raises on reading one,
  which would turn a whole rule into an advisory "can't run during preview" (pulumi/pulumi-policy#181);
  `plain()` turns unknowns into `UNKNOWN` and each rule skips a check whose deciding value is unknown.
- Exceptions are per resource and per rule, in the pack config (`policies/pack-config.json`):
  `{"<policy>": {"exceptions": [{"urn": "<resource URN>", "reason": "<why>"}]}}`. Nothing excepts a type,
  a file or a whole rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    proxy,
)
from pulumi_policy.proxy import UnknownValueError
from pulumi_policy.secret import Secret as PolicySecret

from ..catalogue import find_secret_values, is_reference, redact, secret_kind


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


UNKNOWN = _Marker("UNKNOWN")  # a value the engine does not know yet (preview)
SECRET = _Marker("SECRET")  # a value the SDK marked as a Pulumi secret
UNKNOWN_SENTINELS = frozenset({proxy.UNKNOWN_BOOLEAN_VALUE, proxy.UNKNOWN_NUMBER_VALUE, proxy.UNKNOWN_STRING_VALUE,
                               proxy.UNKNOWN_ARRAY_VALUE, proxy.UNKNOWN_ASSET_VALUE, proxy.UNKNOWN_ARCHIVE_VALUE,
                               proxy.UNKNOWN_OBJECT_VALUE})


def plain(value: Any) -> Any:
    """Props as plain dicts and lists; unknowns become `UNKNOWN`, SDK-marked secrets `SECRET`."""
    if isinstance(value, PolicySecret):
        return SECRET
    if isinstance(value, str):
        return UNKNOWN if value in UNKNOWN_SENTINELS else value
    if isinstance(value, Mapping):
        result = {}
        for key in value:
            try:
                result[key] = plain(value[key])
            except UnknownValueError:
                result[key] = UNKNOWN
        return result
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        items = []
        for index in range(len(value)):
            try:
                items.append(plain(value[index]))
            except UnknownValueError:
                items.append(UNKNOWN)
        return items
    return value


@dataclass(frozen=True)
class Subject:
    """The resource a rule judges: its type token, logical name, URN and plain props."""

    type: str
    name: str
    urn: str
    props: dict

    @property
    def label(self) -> str:
        """`aws:kms/key:Key` -> `Key`, for messages."""
        return self.type.rsplit(":", 1)[-1]

    def say(self, what: str, fix: str) -> str:
        """The violation message: the resource, the property and what is wrong, then the fix. Never a value."""
        return f"{self.label} '{self.name}': {what}. Fix: {fix}."


def dig(props: Any, *path: str | int) -> Any:
    """props[path...] or None when a step is missing; UNKNOWN when a step is unknown."""
    node = props
    for step in path:
        if node is UNKNOWN:
            return UNKNOWN
        if isinstance(step, int):
            node = node[step] if isinstance(node, list) and step < len(node) else None
        else:
            node = node.get(step) if isinstance(node, dict) else None
        if node is None:
            return None
    return node


def format_path(path: Sequence[str | int]) -> str:
    """('spec', 'containers', 0, 'env') -> 'spec.containers[0].env'; decoding steps read `userData(base64)`."""
    text = ""
    for step in path:
        if isinstance(step, int):
            text += f"[{step}]"
        elif step.startswith("("):
            text += step
        else:
            step = redact(step) if find_secret_values(step) else step  # a key can be the secret: never print it
            text += f".{step}" if text else step
    return text


def is_literal(value: Any) -> bool:
    """A value set in place (known or not yet known), rather than empty, a Pulumi secret or a reference (ARN).

    Name-based rules use it: a secret-looking name set with a literal is the violation whatever the value
    turns out to be, so an unknown value counts.
    """
    if value is UNKNOWN:
        return True
    return isinstance(value, str) and value.strip() != "" and not is_reference(value)


def is_inline_literal(value: Any) -> bool:
    """`is_literal`, for values inside scripts and templates: `$VAR`, `$(command)` and `{{ x }}` read from elsewhere."""
    return is_literal(value) and not (isinstance(value, str) and value.lstrip().startswith(("$", "{{")))


def shaped(value: Any) -> str | None:
    """The kind of secret-shaped value, when `value` is a known string holding one."""
    return secret_kind(value) if isinstance(value, str) else None


EXCEPTIONS_PROPERTY = {
    "type": "array",
    "description": "Resources this rule does not judge, each by exact URN, each with the reason.",
    "items": {
        "type": "object",
        "properties": {
            "urn": {"type": "string", "pattern": "^urn:pulumi:[^*]+$"},
            "reason": {"type": "string", "minLength": 10},
        },
        "required": ["urn", "reason"],
        "additionalProperties": False,
    },
    "default": [],
}
EXCEPTIONS_SCHEMA = PolicyConfigSchema(properties={"exceptions": EXCEPTIONS_PROPERTY})


def exception_reason(config: Mapping[str, Any] | None, urn: str) -> str | None:
    """The configured reason for not judging the resource `urn`, or None. An exception without a reason is void."""
    for entry in (config or {}).get("exceptions") or []:
        if isinstance(entry, Mapping) and entry.get("urn") == urn:
            reason = entry.get("reason")
            if isinstance(reason, str) and len(reason.strip()) >= 10:
                return reason
    return None


Check = Callable[[Subject], Iterable[str]]


def resource_policy(name: str, description: str, check: Check, remediation: str) -> ResourceValidationPolicy:
    """A mandatory resource rule whose `check` yields messages, honouring per-resource exceptions."""

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if exception_reason(args.get_config(), args.urn):
            return
        subject = Subject(args.resource_type, args.name, args.urn, plain(args.props))
        for message in check(subject):
            report_violation(message, None)

    return ResourceValidationPolicy(name=name, description=description, validate=validate,
                                    enforcement_level=EnforcementLevel.MANDATORY, config_schema=EXCEPTIONS_SCHEMA,
                                    remediation_steps=remediation)
