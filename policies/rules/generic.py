"""The generic rule: no secret-shaped value in any string input of any resource, outside fields made for secrets.

Every string counts: nested at any depth, map keys, and documents inside strings (JSON, YAML, base64; see
`walk.py`). An AWS access key id and its secret split across two keys of one map are both reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from .aws import LAMBDA_FUNCTION
from .base import SECRET, UNKNOWN, Subject, format_path, resource_policy, shaped
from .kubernetes import CONFIG_MAP_TYPES, K8S_SECRET_TYPES, containers
from .vercel import VERCEL_ENV_VAR, VERCEL_ENV_VARS, VERCEL_PROJECT, VERCEL_SHARED_ENV_VAR
from .walk import strings

SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
SSM_PARAMETER = "aws:ssm/parameter:Parameter"
# Dynamic resources: `pulumi-python:dynamic:Resource`, or `pulumi-python:dynamic/<module>:<Name>` when named.
DYNAMIC_PREFIXES = ("pulumi-python:dynamic", "pulumi-nodejs:dynamic")
PROVIDER_PREFIX = "pulumi:providers:"
# Inputs made for credentials on providers and dynamic resources: any secret-looking name (aws secretKey,
# vercel apiToken, sentry token, a dynamic provider's access_token), plus these.
CREDENTIAL_FIELDS = frozenset({"kubeconfig", "secrets", "__provider"})
# Fields made for secrets: their values are stored encrypted or write-only by design.
SECRET_FIELDS: dict[str, frozenset[str]] = {
    SECRET_VERSION: frozenset({"secretString", "secretBinary", "secretStringWo"}),
    K8S_SECRET_TYPES[0]: frozenset({"data", "stringData"}),
    K8S_SECRET_TYPES[1]: frozenset({"data", "stringData"}),
    "vercel:index/logDrain:LogDrain": frozenset({"secret"}),  # the drain's signing secret
    "vercel:index/projectProtectionBypass:ProjectProtectionBypass": frozenset({"secret"}),
    # An HTTPS subscription's URL carries its receiver's key (PagerDuty's enqueue URL): it is the secret's home.
    "aws:sns/topicSubscription:TopicSubscription": frozenset({"endpoint"}),
}
# Fields a dedicated rule judges (so a problem is reported once, by the rule that explains it).
JUDGED_ELSEWHERE: dict[str, frozenset[str]] = {
    VERCEL_ENV_VAR: frozenset({"value", "valueWo"}),
    VERCEL_SHARED_ENV_VAR: frozenset({"value", "valueWo"}),
    CONFIG_MAP_TYPES[0]: frozenset({"data", "binaryData"}),
    CONFIG_MAP_TYPES[1]: frozenset({"data", "binaryData"}),
}
AWS_SECRET_ACCESS_KEY = re.compile(r"^[A-Za-z0-9/+]{40}$")


def _skipped(subject: Subject, path: tuple[str | int, ...], env_values: set[tuple]) -> bool:
    """Whether `path` is a field made for secrets or one that a dedicated rule judges."""
    from ..catalogue import is_secret_name

    top = path[0] if path else None
    credential_holder = subject.type.startswith((PROVIDER_PREFIX, *DYNAMIC_PREFIXES))
    if credential_holder and isinstance(top, str) and (top in CREDENTIAL_FIELDS or is_secret_name(top)):
        return True
    if top in SECRET_FIELDS.get(subject.type, ()) or top in JUDGED_ELSEWHERE.get(subject.type, ()):
        return True
    if subject.type == SSM_PARAMETER and top in ("value", "valueWo"):
        return subject.props.get("type") in ("SecureString", UNKNOWN)
    if subject.type in (VERCEL_ENV_VARS, VERCEL_PROJECT):
        return len(path) >= 3 and path[0] in ("variables", "environments") and path[2] in ("value", "valueWo")
    if subject.type == LAMBDA_FUNCTION:
        return path[:2] == ("environment", "variables")
    return any(path[:n] in env_values for n in range(1, len(path) + 1))


def check_secret_shaped_values(subject: Subject) -> Iterator[str]:
    env_values = {(*path, "env", j, "value") for path, _, container in containers(subject)
                  for j in range(len(container.get("env") or []) if isinstance(container.get("env"), list) else 0)}
    found: list[tuple[tuple, str]] = []
    siblings: dict[tuple, list[tuple[tuple, str]]] = {}
    for path, text in strings(subject.props):
        if text is SECRET or _skipped(subject, path, env_values):
            continue
        siblings.setdefault(path[:-1], []).append((path, text))
        kind = shaped(text)
        if kind:
            found.append((path, kind))
    # a document and the leaf inside it that holds the value: report the leaf, the most precise path
    found = [(path, kind) for path, kind in found
             if not any(len(other) > len(path) and other[:len(path)] == path for other, _ in found)]
    for path, kind in list(found):
        if kind == "AWS access key id":
            found.extend((other, "AWS secret access key, next to its access key id")
                         for other, text in siblings.get(path[:-1], []) if AWS_SECRET_ACCESS_KEY.match(text))
    for path, kind in found:
        where = format_path(path)
        if where.endswith("(key)"):
            where = f"a key of {format_path(path[:-2]) or 'the resource'}"
        yield subject.say(
            f"{where} holds a secret-shaped value ({kind}) in plain configuration",
            "revoke it, then pass the secret as a Pulumi secret into a field made for secrets (a Secrets Manager "
            "secret, a Kubernetes Secret, a sensitive Vercel variable) and reference that instead")


POLICY = resource_policy(
    "no-secret-shaped-values",
    "No resource input outside the fields made for secrets holds a secret-shaped value (tags and descriptions "
    "included).",
    check_secret_shaped_values, "Revoke the credential and pass it as a Pulumi secret into a secret store.")
