"""Plaintext and public sinks: a secret-named key there holds a reference or a Pulumi secret, never a literal.

A sink is an input that anyone who can read the resource (or the browser, or a log) reads in the clear: tags,
Kubernetes labels and annotations, Helm values at any depth, SSM `String` parameters, Vercel deployment
environments and log-drain headers, ECS container definitions, EventBridge target input, EC2 user data.
Names come from the catalogue (`adminPassword`, `routing_key`, `basic_auth.password`, `DB_PASS`); the
secret-shaped values in the same places are the generic rule's (`no-secret-shaped-values`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ..catalogue import is_placeholder, is_public_by_design, is_secret_name
from .base import Subject, dig, format_path, is_inline_literal, resource_policy, shaped
from .walk import named_values


@dataclass(frozen=True)
class Sink:
    path: tuple[str, ...]
    what: str
    fix: str


TAG_FIX = "tags are readable by anyone who can list resources or read the bill: keep the secret in Secrets Manager " \
          "and tag with its name"
EVERY_RESOURCE = (Sink(("tags",), "a tag", TAG_FIX), Sink(("tagsAll",), "a tag", TAG_FIX))
KUBERNETES = (Sink(("metadata", "labels"), "a label", "labels are not secret: reference a Secret instead"),
              Sink(("metadata", "annotations"), "an annotation", "annotations are not secret: reference a Secret "
                   "instead"))
HELM_FIX = "put the secret in a Kubernetes Secret (an ExternalSecret fills it) and point the chart at it " \
           "(existingSecret, *_file, secretKeyRef)"
SINKS: dict[str, tuple[Sink, ...]] = {
    "kubernetes:helm.sh/v3:Release": (Sink(("values",), "Helm values", HELM_FIX),),
    "kubernetes:helm.sh/v4:Chart": (Sink(("values",), "Helm values", HELM_FIX),),
    "kubernetes:helm.sh/v3:Chart": (Sink(("values",), "Helm values", HELM_FIX),),
    "vercel:index/deployment:Deployment": (Sink(("environment",), "the deployment's environment, readable by "
                                                "everyone on the team", "use a sensitive ProjectEnvironmentVariable"),),
    "vercel:index/logDrain:LogDrain": (Sink(("headers",), "a log-drain header, readable by everyone on the team",
                                            "authenticate the drain with its `secret` (x-vercel-signature) instead"),),
    "aws:ecs/taskDefinition:TaskDefinition": (Sink(("containerDefinitions",), "a container definition's plain "
                                                   "environment", "use the container's `secrets` with valueFrom set "
                                                   "to a Secrets Manager or SSM SecureString ARN"),),
    "aws:cloudwatch/eventTarget:EventTarget": tuple(
        Sink(path, "an EventBridge target's input, stored and logged in the clear", "pass the secret's ARN and let "
             "the target read it, or use an EventBridge connection for API credentials")
        for path in (("input",), ("inputTransformer", "inputTemplate"), ("httpTarget", "headerParameters"))),
    "aws:ec2/launchTemplate:LaunchTemplate": (Sink(("userData",), "user data, readable through the instance "
                                                   "metadata and the console", "fetch the secret at boot from "
                                                   "Secrets Manager with the instance role"),),
    "aws:ec2/instance:Instance": tuple(Sink((p,), "user data, readable through the instance metadata and the console",
                                            "fetch the secret at boot from Secrets Manager with the instance role")
                                       for p in ("userData", "userDataBase64")),
}
SSM_PARAMETER = "aws:ssm/parameter:Parameter"
SSM_FIX = "set type='SecureString' (with a customer-managed key_id), or keep the secret in Secrets Manager"


def _secret(name: str, value: object) -> bool:
    return is_secret_name(name) and not is_public_by_design(name, value if isinstance(value, str) else None)


def _ssm_problems(subject: Subject) -> Iterator[str]:
    kind, name, value = (subject.props.get(k) for k in ("type", "name", "value"))
    if kind not in ("String", "StringList"):
        return
    leaf = name.rstrip("/").rsplit("/", 1)[-1] if isinstance(name, str) else ""
    if leaf and _secret(leaf, value) and is_inline_literal(value) and not shaped(value):
        yield subject.say(f"parameter {name} looks secret but is type {kind}, stored and shown in plaintext", SSM_FIX)
    for path, key, inner in named_values(value, ("value",)) if isinstance(value, str) else ():
        if _secret(key, inner) and is_inline_literal(inner) and not shaped(inner):
            yield subject.say(f"{format_path(path)} sets {key} to a literal in a {kind} parameter", SSM_FIX)


SECRET_REFERENCE_KEYS = frozenset({"existingSecret", "existingSecretName", "secretName", "secretRef", "secretKeyRef"})


def _names_a_key_of_a_secret(subject: Subject, path: tuple, name: str) -> bool:
    """Charts name the keys of a referenced Secret: `{existingSecret: x, passwordKey: password}`."""
    parent = dig(subject.props, *path[:-1])
    return (isinstance(parent, dict) and bool(SECRET_REFERENCE_KEYS & set(parent))
            and name.lower().endswith(("key", "_key", "-key")))


def check_plaintext_sinks(subject: Subject) -> Iterator[str]:
    sinks = SINKS.get(subject.type, ()) + EVERY_RESOURCE
    if subject.type.startswith("kubernetes:"):
        sinks += KUBERNETES
    for sink in sinks:
        root = dig(subject.props, *sink.path)
        for path, name, value in named_values(root, sink.path) if root is not None else ():
            if (_secret(name, value) and is_inline_literal(value) and not is_placeholder(str(value))
                    and not shaped(value) and not _names_a_key_of_a_secret(subject, path, name)):
                yield subject.say(f"{format_path(path)} sets {name} to a literal in {sink.what}", sink.fix)
    if subject.type == SSM_PARAMETER:
        yield from _ssm_problems(subject)


POLICY = resource_policy(
    "plaintext-sinks-no-secret-literals",
    "Secret-named keys in plaintext sinks (tags, labels, Helm values, SSM String parameters, Vercel deployment "
    "environments and log-drain headers, ECS container definitions, EventBridge input, user data) hold a "
    "reference or a Pulumi secret, never a literal.",
    check_plaintext_sinks, "Keep the secret in a secret store and reference it (ARN, secretKeyRef, SecureString).")
