"""Kubernetes: secrets reach containers through Secrets (secretKeyRef), never a literal env value, argument,
probe header or ConfigMap entry. Any kind with a pod template counts (an Argo Rollout, a CRD), not only the
built-in workloads."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from typing import Any

from ..catalogue import is_placeholder, is_public_by_design, is_secret_name
from .base import Subject, dig, format_path, is_inline_literal, is_literal, resource_policy, shaped
from .walk import named_values, strings

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
PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
CONFIG_MAP_TYPES = ("kubernetes:core/v1:ConfigMap", "kubernetes:core/v1:ConfigMapPatch")
K8S_SECRET_TYPES = ("kubernetes:core/v1:Secret", "kubernetes:core/v1:SecretPatch")
ENV_FIX = "read {name} with valueFrom.secretKeyRef from a Kubernetes Secret (an ExternalSecret fills it)"


def _secret(name: Any, value: Any = None) -> bool:
    return isinstance(name, str) and is_secret_name(name) and not is_public_by_design(
        name, value if isinstance(value, str) else None)


def pod_specs(subject: Subject) -> Iterator[tuple[tuple[str | int, ...], dict]]:
    """(path, pod spec) of a workload: the known path of a built-in kind, else any dict holding `containers`."""
    known = POD_SPEC_PATHS.get(subject.type)
    if known is not None:
        spec = dig(subject.props, *known)
        if isinstance(spec, dict):
            yield known, spec
        return
    if not subject.type.startswith("kubernetes:") or subject.type.startswith(("kubernetes:helm.sh", "kubernetes:core")):
        return

    def search(node: Any, path: tuple[str | int, ...], depth: int) -> Iterator[tuple[tuple[str | int, ...], dict]]:
        if isinstance(node, dict) and depth < 7:
            if isinstance(node.get("containers"), list):
                yield path, node
                return
            for key, item in node.items():
                yield from search(item, (*path, key), depth + 1)

    yield from search(subject.props.get("spec"), ("spec",), 0)


def containers(subject: Subject) -> Iterator[tuple[tuple[str | int, ...], str, dict]]:
    for spec_path, spec in pod_specs(subject):
        for group in CONTAINER_GROUPS:
            items = spec.get(group)
            for i, container in enumerate(items if isinstance(items, list) else []):
                if isinstance(container, dict):
                    yield (*spec_path, group, i), str(container.get("name", "?")), container


def _env_problems(subject: Subject, path: tuple, container: str, env: Any) -> Iterator[str]:
    for j, entry in enumerate(env if isinstance(env, list) else []):
        if not isinstance(entry, dict):
            continue
        name, value = entry.get("name"), entry.get("value")
        where = f"container '{container}' env {name} ({format_path((*path, 'env', j))})"
        fix = ENV_FIX.format(name=name)
        config_map_ref = dig(entry, "valueFrom", "configMapKeyRef")
        if _secret(name, value) and is_literal(value):
            kind = shaped(value)
            yield subject.say(f"{where} is set with a literal `value`" + (f" that is secret-shaped ({kind})"
                                                                           if kind else ""), fix)
        elif _secret(name) and isinstance(config_map_ref, dict):
            yield subject.say(f"{where} reads ConfigMap '{config_map_ref.get('name')}' with configMapKeyRef", fix)
        elif shaped(value):
            yield subject.say(f"{where} holds a secret-shaped value ({shaped(value)}) in `value`", fix)


def _argument_problems(subject: Subject, path: tuple, container: str, argv: Any, field: str) -> Iterator[str]:
    """`--password=x` or `--password x`: a secret flag with a literal (secret-shaped ones are reported generically)."""
    argv = argv if isinstance(argv, list) else []
    for i, arg in enumerate(argv):
        if not isinstance(arg, str) or not arg.startswith("-") or shaped(arg):
            continue
        flag, _, inline = arg.lstrip("-").partition("=")
        value = inline if inline else (argv[i + 1] if i + 1 < len(argv) and "=" not in arg else None)
        if _secret(flag) and isinstance(value, str) and not value.startswith(("-", "$(")) and is_literal(value):
            yield subject.say(f"container '{container}' {field}[{i}] passes --{flag} a literal value "
                              f"({format_path((*path, field))}), readable by anyone who can read the pod spec",
                              f"set {flag} from an env var read with valueFrom.secretKeyRef and pass $(VAR)")


def _probe_problems(subject: Subject, path: tuple, container: dict, name: str) -> Iterator[str]:
    for probe in PROBES:
        headers = dig(container, probe, "httpGet", "httpHeaders")
        for k, header in enumerate(headers if isinstance(headers, list) else []):
            header_name = header.get("name") if isinstance(header, dict) else None
            if _secret(header_name) and is_literal(header.get("value")):
                where = format_path((*path, probe, "httpGet", "httpHeaders", k))
                yield subject.say(f"container '{name}' {probe} sends header {header_name} with a literal value "
                                  f"({where})", "probe a tokenless health endpoint, or use an exec probe that reads "
                                  "a mounted Secret")


def check_k8s_env(subject: Subject) -> Iterator[str]:
    for path, name, container in containers(subject):
        yield from _env_problems(subject, path, name, container.get("env"))
        yield from _argument_problems(subject, path, name, container.get("args"), "args")
        yield from _argument_problems(subject, path, name, container.get("command"), "command")
        yield from _probe_problems(subject, path, container, name)


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
    if subject.type not in CONFIG_MAP_TYPES:
        return
    fix = "move it to a Kubernetes Secret (synced from Secrets Manager by an ExternalSecret) and mount or reference it"
    for prop, key, value in _config_map_entries(subject.props):
        if _secret(key, value) and is_literal(value) and not is_placeholder(str(value)):
            yield subject.say(f"{prop}.{key} looks secret, and ConfigMaps are neither encrypted nor access-restricted "
                              "like Secrets", fix)
        shapes = [(path, shaped(text)) for path, text in strings(value, (prop, key)) if shaped(text)]
        if shapes:
            path, kind = shapes[0]
            yield subject.say(f"{format_path(path)} holds a secret-shaped value ({kind})", fix)
            continue
        for path, name, inner in named_values(value, (prop, key)):
            if _secret(name, inner) and is_inline_literal(inner) and not shaped(inner):
                yield subject.say(f"{format_path(path)} (a file in the ConfigMap) sets {name} to a literal", fix)


POLICIES = [
    resource_policy(
        "kubernetes-secret-env-from-secret-ref",
        "Kubernetes workload containers read secret-looking environment variables with valueFrom.secretKeyRef.",
        check_k8s_env, "Reference a Kubernetes Secret key with valueFrom.secretKeyRef instead of a literal value."),
    resource_policy(
        "kubernetes-configmap-no-secrets",
        "Kubernetes ConfigMaps hold no secret-looking keys and no secret-shaped values.",
        check_config_map, "Move secrets to a Kubernetes Secret synced by an ExternalSecret."),
]
