"""The secret-hygiene rules of the `kingtavo-secret-hygiene` policy pack, importable without starting it.

`POLICIES` is what `policies/__main__.py` hands to `PolicyPack` and what the offline gate
(`tools/policy_gate.py`) applies to a planned stack. Every rule is mandatory: a violation means
a secret is, or will be, readable by someone who should not read it.

How the rules read resources:

- Props arrive camelCased, secrets unwrapped (a policy cannot tell a secret from a literal,
  pulumi/pulumi-policy#241), so values are judged by shape and names by wording (`policies/patterns.py`).
- During preview a value computed from another resource is unknown. The SDK's proxy raises on
  reading one, which would turn the whole rule into an advisory "can't run during preview"
  (pulumi/pulumi-policy#181); instead `plain()` turns unknowns into `UNKNOWN` and each rule skips
  a check whose deciding value is unknown. Unknown is never a violation by itself.
- Exceptions are per resource and per rule, in the pack config (`policies/pack-config.json`):
  `{"<policy name>": {"exceptions": [{"urn": "<resource URN>", "reason": "<why>"}]}}`. Nothing
  excepts a type, a file or a whole rule.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi import AssetArchive, StringAsset
from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
    proxy,
)
from pulumi_policy.proxy import UnknownValueError
from pulumi_policy.secret import Secret as PolicySecret

try:  # imported as the package `policies` (tests, tools/policy_gate.py, tools/repo_check.py)
    from .patterns import is_arn, is_placeholder, looks_secret_name, secret_kind
except ImportError:  # run by the policy pack runtime, which puts policies/ itself on sys.path
    from patterns import is_arn, is_placeholder, looks_secret_name, secret_kind  # type: ignore[no-redef]

PACK_NAME = "kingtavo-secret-hygiene"
PACK_ENFORCEMENT = EnforcementLevel.MANDATORY
ROTATION_TAG = "rotation"
ROTATION_MANUAL = "manual"
ROTATION_REASON_TAG = "rotation-reason"

# --- reading props ----------------------------------------------------------------------------------------


class _Unknown:
    """A value the engine does not know yet (preview). One instance: compare with `is UNKNOWN`."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()
# The engine's markers for values not known during preview (pulumi_policy.proxy).
UNKNOWN_SENTINELS = frozenset({proxy.UNKNOWN_BOOLEAN_VALUE, proxy.UNKNOWN_NUMBER_VALUE, proxy.UNKNOWN_STRING_VALUE,
                               proxy.UNKNOWN_ARRAY_VALUE, proxy.UNKNOWN_ASSET_VALUE, proxy.UNKNOWN_ARCHIVE_VALUE,
                               proxy.UNKNOWN_OBJECT_VALUE})


def plain(value: Any) -> Any:
    """Props as plain dicts and lists, with every unknown (proxy or sentinel string) replaced by `UNKNOWN`."""
    if isinstance(value, PolicySecret):
        return plain(value.value)
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
        """The violation message: the resource, the property and what is wrong, then the fix."""
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
    """('spec', 'containers', 0, 'env') -> 'spec.containers[0].env'."""
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text


def is_literal(value: Any) -> bool:
    """A value set in place (known or not yet known), rather than empty or a reference (an ARN).

    Name-based rules use it: a secret-looking name set with a literal is the violation whatever
    the value turns out to be, so an unknown value counts; an ARN or an empty string does not.
    """
    return value is UNKNOWN or (isinstance(value, str) and value.strip() != "" and not is_arn(value))


def shaped(value: Any) -> str | None:
    """The kind of secret-shaped value, when `value` is a known string holding one."""
    return secret_kind(value) if isinstance(value, str) else None


# --- exceptions (pack config) -----------------------------------------------------------------------------

EXCEPTIONS_SCHEMA = PolicyConfigSchema(properties={
    "exceptions": {
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
    },
})


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


# --- Vercel environment variables -------------------------------------------------------------------------

VERCEL_ENV_VAR = "vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable"
VERCEL_ENV_VARS = "vercel:index/projectEnvironmentVariables:ProjectEnvironmentVariables"
VERCEL_SHARED_ENV_VAR = "vercel:index/sharedEnvironmentVariable:SharedEnvironmentVariable"
VERCEL_ENV_TYPES = (VERCEL_ENV_VAR, VERCEL_ENV_VARS, VERCEL_SHARED_ENV_VAR)
PUBLIC_PREFIX = "NEXT_PUBLIC_"


@dataclass(frozen=True)
class VercelVariable:
    where: str  # "" for a single-variable resource, "variables[2]." for one entry of ProjectEnvironmentVariables
    key: str
    value: Any
    sensitive: Any
    targets: Any

    @property
    def public(self) -> bool:
        return self.key.startswith(PUBLIC_PREFIX)

    def looks_secret(self) -> str | None:
        """Why this variable holds a secret (its name or the shape of its value), or None."""
        if looks_secret_name(self.key):
            return "its name looks secret"
        kind = shaped(self.value)
        return f"its value is secret-shaped: {kind}" if kind else None


def vercel_variables(subject: Subject) -> Iterator[VercelVariable]:
    """The variables a Vercel env resource declares; entries whose key is unknown are skipped."""
    if subject.type == VERCEL_ENV_VARS:
        entries = subject.props.get("variables")
        entries = entries if isinstance(entries, list) else []
        candidates = [(f"variables[{i}].", entry) for i, entry in enumerate(entries)]
    else:
        candidates = [("", subject.props)]
    for where, entry in candidates:
        if isinstance(entry, dict) and isinstance(entry.get("key"), str):
            value = entry.get("value", entry.get("valueWo"))
            yield VercelVariable(where, entry["key"], value, entry.get("sensitive"), entry.get("targets"))


def check_vercel_sensitive(subject: Subject) -> Iterator[str]:
    for var in vercel_variables(subject):
        if var.public or var.sensitive is True or var.sensitive is UNKNOWN:
            continue
        why = var.looks_secret()
        if why:
            yield subject.say(
                f"{var.where}sensitive is {var.sensitive!r} for {var.key} ({why}), so anyone with access to the "
                "project can read the value back", f"set sensitive=True on {var.key}")


def check_vercel_not_development(subject: Subject) -> Iterator[str]:
    for var in vercel_variables(subject):
        if var.public or not isinstance(var.targets, list) or "development" not in var.targets:
            continue
        why = "it is sensitive" if var.sensitive is True else var.looks_secret()
        if why:
            yield subject.say(
                f"{var.where}targets includes 'development' for {var.key} ({why}), so `vercel env pull` copies it "
                "to developers' machines", f"target only 'preview' and/or 'production' with {var.key}; developers "
                "keep their own test keys in .env.local")


def check_vercel_public(subject: Subject) -> Iterator[str]:
    for var in vercel_variables(subject):
        if not var.public:
            continue
        if looks_secret_name(var.key):
            yield subject.say(
                f"{var.where}key {var.key} looks secret, and NEXT_PUBLIC_ variables are inlined into the JavaScript "
                "every browser downloads", "drop the NEXT_PUBLIC_ prefix, mark it sensitive=True and read it only "
                "on the server")
        kind = shaped(var.value)
        if kind:
            yield subject.say(
                f"{var.where}value of {var.key} is secret-shaped ({kind}), and NEXT_PUBLIC_ variables are shipped to "
                "every browser", "revoke that credential, ship only public values (the Supabase anon key, a Sentry "
                f"DSN) in {var.key}, and keep the secret in a sensitive server-side variable")


# --- Kubernetes ---------------------------------------------------------------------------------------------

_POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "kubernetes:core/v1:Pod": ("spec",),
    "kubernetes:core/v1:PodTemplate": ("template", "spec"),
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
POD_SPEC_PATHS = {**_POD_SPEC_PATHS, **{f"{token}Patch": path for token, path in _POD_SPEC_PATHS.items()}}
CONTAINER_GROUPS = ("initContainers", "containers", "ephemeralContainers")
CONFIG_MAP_TYPES = ("kubernetes:core/v1:ConfigMap", "kubernetes:core/v1:ConfigMapPatch")
K8S_SECRET_TYPES = ("kubernetes:core/v1:Secret", "kubernetes:core/v1:SecretPatch")


def container_env(subject: Subject) -> Iterator[tuple[tuple[str | int, ...], str, dict]]:
    """(path of the env entry, container name, env entry) for every container of a workload."""
    spec_path = POD_SPEC_PATHS.get(subject.type)
    if spec_path is None:
        return
    pod_spec = dig(subject.props, *spec_path)
    if not isinstance(pod_spec, dict):
        return
    for group in CONTAINER_GROUPS:
        containers = pod_spec.get(group)
        for i, container in enumerate(containers if isinstance(containers, list) else []):
            env = container.get("env") if isinstance(container, dict) else None
            for j, entry in enumerate(env if isinstance(env, list) else []):
                if isinstance(entry, dict):
                    yield (*spec_path, group, i, "env", j), str(container.get("name", "?")), entry


def check_k8s_env(subject: Subject) -> Iterator[str]:
    for path, container, entry in container_env(subject):
        name, value = entry.get("name"), entry.get("value")
        where = f"container '{container}' env {name} ({format_path(path)})"
        fix = f"read {name} with valueFrom.secretKeyRef from a Kubernetes Secret (an ExternalSecret fills it)"
        secret_name = isinstance(name, str) and looks_secret_name(name)
        config_map_ref = dig(entry, "valueFrom", "configMapKeyRef")
        if secret_name and is_literal(value):
            kind = shaped(value)
            shape = f" that is secret-shaped ({kind})" if kind else ""
            yield subject.say(f"{where} is set with a literal `value`{shape}", fix)
        elif secret_name and isinstance(config_map_ref, dict):
            yield subject.say(f"{where} reads ConfigMap '{config_map_ref.get('name')}' with configMapKeyRef", fix)
        elif shaped(value):
            yield subject.say(f"{where} holds a secret-shaped value ({shaped(value)}) in `value`", fix)


def _config_map_entries(props: dict) -> Iterator[tuple[str, str, str]]:
    """(property, key, text) for `data` and base64-decoded `binaryData`."""
    for prop in ("data", "binaryData"):
        entries = props.get(prop)
        for key, value in (entries.items() if isinstance(entries, dict) else []):
            if not isinstance(value, str):
                continue
            if prop == "binaryData":
                try:
                    value = base64.b64decode(value, validate=True).decode("utf-8", errors="ignore")
                except (binascii.Error, ValueError):
                    continue
            yield prop, key, value


def check_config_map(subject: Subject) -> Iterator[str]:
    fix = "move it to a Kubernetes Secret (synced from Secrets Manager by an ExternalSecret) and mount or reference it"
    for prop, key, value in _config_map_entries(subject.props):
        if looks_secret_name(key) and is_literal(value):
            yield subject.say(f"{prop}.{key} looks secret, and ConfigMaps are neither encrypted nor access-restricted "
                              "like Secrets", fix)
        kind = shaped(value)
        if kind:
            yield subject.say(f"{prop}.{key} holds a secret-shaped value ({kind})", fix)


# --- secret-shaped values anywhere else -------------------------------------------------------------------

LAMBDA_FUNCTION = "aws:lambda/function:Function"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
# Dynamic resources: `pulumi-python:dynamic:Resource`, or `pulumi-python:dynamic/<module>:<Name>` when named.
DYNAMIC_PREFIXES = ("pulumi-python:dynamic", "pulumi-nodejs:dynamic")
PROVIDER_PREFIX = "pulumi:providers:"
# Inputs made for credentials on providers and dynamic resources: any secret-looking name (aws secretKey,
# vercel apiToken, sentry token, a dynamic provider's access_token), plus these.
CREDENTIAL_FIELDS = frozenset({"kubeconfig", "secrets", "__provider"})
# Fields made for secrets: their values are stored encrypted or write-only by design.
SECRET_FIELDS: dict[str, frozenset[str]] = {
    SECRET_VERSION: frozenset({"secretString", "secretBinary", "secretStringWo"}),
    "aws:ssm/parameter:Parameter": frozenset({"value", "valueWo"}),
    K8S_SECRET_TYPES[0]: frozenset({"data", "stringData"}),
    K8S_SECRET_TYPES[1]: frozenset({"data", "stringData"}),
    # A log drain's signing secret.
    "vercel:index/logDrain:LogDrain": frozenset({"secret"}),
    # An HTTPS subscription's URL carries its receiver's key (PagerDuty's enqueue URL): it is the secret's home.
    "aws:sns/topicSubscription:TopicSubscription": frozenset({"endpoint"}),
}
# Fields a dedicated rule above judges (so a problem is reported once, by the rule that explains it).
JUDGED_ELSEWHERE: dict[str, frozenset[str]] = {
    VERCEL_ENV_VAR: frozenset({"value", "valueWo"}),
    VERCEL_SHARED_ENV_VAR: frozenset({"value", "valueWo"}),
    CONFIG_MAP_TYPES[0]: frozenset({"data", "binaryData"}),
    CONFIG_MAP_TYPES[1]: frozenset({"data", "binaryData"}),
}


def _skipped(subject: Subject, path: tuple[str | int, ...]) -> bool:
    """Whether `path` is a field made for secrets or one that a dedicated rule judges."""
    top = path[0] if path else None
    credential_holder = subject.type.startswith((PROVIDER_PREFIX, *DYNAMIC_PREFIXES))
    if credential_holder and isinstance(top, str) and (top in CREDENTIAL_FIELDS or looks_secret_name(top)):
        return True
    if top in SECRET_FIELDS.get(subject.type, ()) or top in JUDGED_ELSEWHERE.get(subject.type, ()):
        return True
    if subject.type == VERCEL_ENV_VARS:
        return len(path) >= 3 and path[0] == "variables" and path[2] in ("value", "valueWo")
    if subject.type == LAMBDA_FUNCTION:
        return path[:2] == ("environment", "variables")
    spec_path = POD_SPEC_PATHS.get(subject.type)
    if spec_path is not None:
        rest = path[len(spec_path):]
        return (path[:len(spec_path)] == spec_path and len(rest) == 5 and rest[0] in CONTAINER_GROUPS
                and rest[2] == "env" and rest[4] == "value")
    return False


def walk_strings(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Every string leaf with its path; string assets and archives are read too."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, StringAsset):
        yield path, value.text
    elif isinstance(value, AssetArchive):
        for key, item in value.assets.items():
            yield from walk_strings(item, (*path, key))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from walk_strings(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk_strings(item, (*path, index))


def check_secret_shaped_values(subject: Subject) -> Iterator[str]:
    for path, text in walk_strings(subject.props):
        if _skipped(subject, path):
            continue
        kind = secret_kind(text)
        if kind:
            yield subject.say(
                f"{format_path(path)} holds a secret-shaped value ({kind}) in plain configuration",
                "revoke it, then pass the secret as a Pulumi secret into a field made for secrets (a Secrets Manager "
                "secret, a Kubernetes Secret, a sensitive Vercel variable) and reference that instead")


# --- AWS encryption and rotation --------------------------------------------------------------------------

SECRETS_MANAGER_SECRET = "aws:secretsmanager/secret:Secret"
SECRET_ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"


def is_aws_managed_key(key: str) -> bool:
    """`alias/aws/...` (or its ARN) is a key AWS manages: its policy cannot be restricted."""
    return key.startswith("alias/aws/") or ":alias/aws/" in key


def check_secretsmanager_kms(subject: Subject) -> Iterator[str]:
    if subject.type != SECRETS_MANAGER_SECRET:
        return
    key = subject.props.get("kmsKeyId")
    fix = "set kms_key_id to a customer-managed KMS key (rotation on) dedicated to secrets"
    if key is None or key == "":
        yield subject.say("kmsKeyId is not set, so Secrets Manager encrypts with the AWS managed key "
                          "aws/secretsmanager, whose key policy cannot be restricted", fix)
    elif isinstance(key, str) and is_aws_managed_key(key):
        yield subject.say(f"kmsKeyId is the AWS managed key '{key}', whose key policy cannot be restricted", fix)


def check_kms_rotation(subject: Subject) -> Iterator[str]:
    if subject.type != "aws:kms/key:Key":
        return
    spec = subject.props.get("customerMasterKeySpec") or subject.props.get("keySpec") or "SYMMETRIC_DEFAULT"
    enabled = subject.props.get("enableKeyRotation")
    if spec != "SYMMETRIC_DEFAULT" or enabled is True or enabled is UNKNOWN:
        return  # AWS rotates only symmetric encryption keys automatically
    yield subject.say(f"enableKeyRotation is {enabled!r}, so the key material is never rotated",
                      "set enable_key_rotation=True (and rotation_period_in_days if a year is too long)")


def check_eks_secrets_encryption(subject: Subject) -> Iterator[str]:
    if subject.type != "aws:eks/cluster:Cluster":
        return
    config = subject.props.get("encryptionConfig")
    if isinstance(config, list):
        config = config[0] if config else None
    fix = "set encryption_config with resources=['secrets'] and provider.key_arn of a customer-managed KMS key"
    if config is UNKNOWN:
        return
    if not isinstance(config, dict):
        yield subject.say("encryptionConfig is not set, so Kubernetes Secrets sit in etcd without envelope "
                          "encryption", fix)
        return
    resources, key_arn = config.get("resources"), dig(config, "provider", "keyArn")
    if isinstance(resources, list) and "secrets" not in resources:
        yield subject.say(f"encryptionConfig.resources is {resources!r}, which leaves out 'secrets'", fix)
    if key_arn is None or key_arn == "":
        yield subject.say("encryptionConfig.provider.keyArn is not set", fix)


def check_sns_kms(subject: Subject) -> Iterator[str]:
    if subject.type != "aws:sns/topic:Topic":
        return
    key = subject.props.get("kmsMasterKeyId")
    fix = "set kms_master_key_id to a customer-managed KMS key whose policy lets CloudWatch and EventBridge use it"
    if key is None or key == "":
        yield subject.say("kmsMasterKeyId is not set, so messages (alert payloads) are stored unencrypted", fix)
    elif isinstance(key, str) and is_aws_managed_key(key):
        yield subject.say(f"kmsMasterKeyId is the AWS managed key '{key}', which CloudWatch alarms cannot use", fix)


def check_log_group_kms(subject: Subject) -> Iterator[str]:
    if subject.type != "aws:cloudwatch/logGroup:LogGroup":
        return
    key = subject.props.get("kmsKeyId")
    if key is None or key == "":
        yield subject.say("kmsKeyId is not set, so the logs are encrypted only with a key nobody can restrict",
                          "set kms_key_id to a customer-managed KMS key whose policy lets logs.<region> use it")


def check_lambda_environment(subject: Subject) -> Iterator[str]:
    if subject.type != LAMBDA_FUNCTION:
        return
    variables = dig(subject.props, "environment", "variables")
    for name, value in (variables.items() if isinstance(variables, dict) else []):
        kind = shaped(value)
        if looks_secret_name(name) and is_literal(value):
            problem = "looks secret and is set as a literal" + (f" that is secret-shaped ({kind})" if kind else "")
        elif kind:
            problem = f"holds a secret-shaped value ({kind})"
        else:
            continue
        yield subject.say(
            f"environment.variables.{name} {problem}, readable by anyone allowed lambda:GetFunctionConfiguration",
            f"keep the value in Secrets Manager, pass its ARN (e.g. {name}_ARN) and read it at run time")


# --- the stack-level rotation check -----------------------------------------------------------------------


def _tags(props: dict) -> dict:
    tags = props.get("tags")
    return tags if isinstance(tags, dict) else {}


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


def check_secret_rotation(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    config = args.get_config()
    rotated = _rotated_secret_urns(args.resources)
    for resource in args.resources:
        if resource.resource_type != SECRETS_MANAGER_SECRET or resource.urn in rotated:
            continue
        if exception_reason(config, resource.urn):
            continue
        subject = Subject(resource.resource_type, resource.name, resource.urn, plain(resource.props))
        tags = subject.props.get("tags")
        if tags is UNKNOWN:
            continue
        manual, reason = _tags(subject.props).get(ROTATION_TAG), _tags(subject.props).get(ROTATION_REASON_TAG)
        fix = (f"add an aws.secretsmanager.SecretRotation for it, or tag it {ROTATION_TAG}={ROTATION_MANUAL} with a "
               f"{ROTATION_REASON_TAG} tag saying who rotates it by hand and how")
        if manual == ROTATION_MANUAL and isinstance(reason, str) and reason.strip() and not is_placeholder(reason):
            continue
        if manual == ROTATION_MANUAL:
            message = subject.say(f"tags.{ROTATION_TAG} is '{ROTATION_MANUAL}' but tags.{ROTATION_REASON_TAG} gives "
                                  "no reason", fix)
        else:
            message = subject.say("has no SecretRotation and no tags.rotation='manual', so nothing ever rotates it",
                                  fix)
        report_violation(message, resource.urn)


# --- the pack ---------------------------------------------------------------------------------------------

POLICIES: list[ResourceValidationPolicy | StackValidationPolicy] = [
    resource_policy(
        "vercel-secret-env-sensitive",
        "Vercel environment variables that hold secrets (secret-looking names or secret-shaped values) are sensitive.",
        check_vercel_sensitive, "Set sensitive=True so the value cannot be read back through the API or dashboard."),
    resource_policy(
        "vercel-secret-env-not-development",
        "Vercel environment variables that hold secrets do not target the development environment.",
        check_vercel_not_development, "Target only preview and production; developers use their own keys locally."),
    resource_policy(
        "vercel-public-env-no-secrets",
        "NEXT_PUBLIC_ Vercel variables, shipped to every browser, have neither secret-looking names nor "
        "secret-shaped values.",
        check_vercel_public, "Rename without NEXT_PUBLIC_, mark sensitive and use it on the server only."),
    resource_policy(
        "kubernetes-secret-env-from-secret-ref",
        "Kubernetes workload containers read secret-looking environment variables with valueFrom.secretKeyRef.",
        check_k8s_env, "Reference a Kubernetes Secret key with valueFrom.secretKeyRef instead of a literal value."),
    resource_policy(
        "kubernetes-configmap-no-secrets",
        "Kubernetes ConfigMaps hold no secret-looking keys and no secret-shaped values.",
        check_config_map, "Move secrets to a Kubernetes Secret synced by an ExternalSecret."),
    resource_policy(
        "no-secret-shaped-values",
        "No resource input outside the fields made for secrets holds a secret-shaped value (tags and descriptions "
        "included).",
        check_secret_shaped_values, "Revoke the credential and pass it as a Pulumi secret into a secret store."),
    resource_policy(
        "secretsmanager-customer-managed-kms",
        "Secrets Manager secrets are encrypted with a customer-managed KMS key, not aws/secretsmanager.",
        check_secretsmanager_kms, "Set kms_key_id to the secrets KMS key."),
    StackValidationPolicy(
        name="secretsmanager-rotation",
        description="Every Secrets Manager secret is rotated by a SecretRotation, or is tagged rotation=manual with "
                    "a rotation-reason.",
        validate=check_secret_rotation, enforcement_level=EnforcementLevel.MANDATORY,
        config_schema=EXCEPTIONS_SCHEMA,
        remediation_steps="Add a SecretRotation, or tag the secret rotation=manual and rotation-reason=<how>."),
    resource_policy(
        "kms-key-rotation-enabled",
        "Symmetric KMS keys have automatic key rotation enabled.",
        check_kms_rotation, "Set enable_key_rotation=True."),
    resource_policy(
        "eks-secrets-encryption",
        "EKS clusters envelope-encrypt Kubernetes Secrets with a KMS key.",
        check_eks_secrets_encryption, "Set encryption_config(resources=['secrets'], provider.key_arn=<KMS key>)."),
    resource_policy(
        "sns-topic-kms-encryption",
        "SNS topics are encrypted with a customer-managed KMS key.",
        check_sns_kms, "Set kms_master_key_id to a customer-managed key."),
    resource_policy(
        "cloudwatch-log-group-kms-encryption",
        "CloudWatch log groups are encrypted with a KMS key.",
        check_log_group_kms, "Set kms_key_id on the log group."),
    resource_policy(
        "lambda-environment-no-secrets",
        "Lambda environment variables hold no secret-looking literal and no secret-shaped value.",
        check_lambda_environment, "Pass a Secrets Manager ARN and read the secret at run time."),
]
