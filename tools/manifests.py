"""Render the Kubernetes objects of an offline plan as manifests, and validate them against the schemas.

    python -m tools.manifests --stack production            # YAML manifests on stdout
    python -m tools.manifests --stack production --validate # schema check for the cluster's version

Only built-in kinds are rendered (`kubernetes:<group>/<version>:<Kind>`); Helm releases and the
provider are not manifests, and custom resources (PrometheusRule, ExternalSecret...) have no
schema in the Kubernetes OpenAPI documents, so they are listed but not schema-checked.
"""

from __future__ import annotations

import argparse
import sys

import yaml

from components.core.environments import STACKS
from tools.harness import PlannedResource, PlanResult, run_stack

BUILTIN_GROUPS = {"core", "apps", "batch", "policy", "networking.k8s.io", "rbac.authorization.k8s.io",
                  "autoscaling", "scheduling.k8s.io", "storage.k8s.io"}


def api_version_and_kind(type_token: str) -> tuple[str, str, str] | None:
    """(group, apiVersion, kind) for `kubernetes:apps/v1:Deployment`; None for providers and Helm releases."""
    if not type_token.startswith("kubernetes:") or type_token.startswith(("kubernetes:helm.sh", "pulumi:providers")):
        return None
    _, group_version, kind = type_token.split(":")
    group, version = group_version.split("/")
    return group, version if group == "core" else f"{group}/{version}", kind


def manifest(resource: PlannedResource) -> dict | None:
    parsed = api_version_and_kind(resource.type)
    if parsed is None:
        return None
    _, api_version, kind = parsed
    body = {k: v for k, v in resource.inputs.items() if k not in ("apiVersion", "kind")}
    return {"apiVersion": api_version, "kind": kind, **body}


def builtin_manifests(plan: PlanResult) -> list[dict]:
    manifests = []
    for resource in sorted(plan.resources, key=lambda r: r.urn):
        parsed = api_version_and_kind(resource.type)
        if parsed and parsed[0] in BUILTIN_GROUPS and not resource.read:
            manifests.append(manifest(resource))
    return manifests


def schema_version(kubernetes_version: str) -> str:
    """kubernetes-validate names schema sets by full version (`1.33.0`)."""
    return f"{kubernetes_version}.0"


def validate(manifests: list[dict], kubernetes_version: str) -> list[str]:
    """Problems found by the strict schemas for this Kubernetes version (an empty list means valid)."""
    import kubernetes_validate

    problems = []
    for item in manifests:
        try:
            kubernetes_validate.validate(item, schema_version(kubernetes_version), strict=True)
        except kubernetes_validate.ValidationError as error:
            name = item.get("metadata", {}).get("name")
            problems.append(f"{item['kind']}/{name}: {error.message} at {'/'.join(map(str, error.path))}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.manifests", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, choices=STACKS)
    parser.add_argument("--validate", action="store_true")
    args = parser.parse_args(argv)
    plan = run_stack(args.stack)
    manifests = builtin_manifests(plan)
    if not args.validate:
        print(yaml.safe_dump_all(manifests, sort_keys=False))
        return 0
    from tools.harness import stack_config

    version = str(stack_config(args.stack)["kingtavo:cluster"]["kubernetesVersion"])
    problems = validate(manifests, version)
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{len(manifests)} manifests, {len(problems)} schema problems (Kubernetes {version})")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
