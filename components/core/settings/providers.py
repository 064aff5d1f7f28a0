"""Unknown config keys in every namespace the stack files use, each with a "did you mean" suggestion.

`kingtavo:` keys are the program's own (the plane, secret and scalar keys). A provider's keys are
read from its installed SDK, not typed by hand, so they follow the pinned provider version:

- pulumi-aws, pulumiverse-vercel and pulumiverse-sentry generate `<package>/config/vars.py`, whose
  properties read `__config__.get('<key>')`: those string literals are the provider's keys;
- pulumi-kubernetes has no config module; its `ProviderArgs` takes the same settings as keyword
  arguments (snake_case of the config keys).

A typo such as `vercel:teem` would otherwise be ignored silently by the provider.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import inspect
from collections.abc import Iterable
from pathlib import Path

from pydantic.alias_generators import to_camel

from components.core.settings.errors import did_you_mean

# namespace -> the SDK module whose generated config module lists its keys
CONFIG_MODULES = {"aws": "pulumi_aws", "vercel": "pulumiverse_vercel", "sentry": "pulumiverse_sentry"}
# The engine's own settings (pulumi.com/docs/iac/concepts/config: `pulumi:` namespace).
PULUMI_KEYS = frozenset({"tags", "disable-default-providers", "autonaming", "template"})


def _config_module_keys(package: str) -> frozenset[str]:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return frozenset()
    source = Path(next(iter(spec.submodule_search_locations))) / "config" / "vars.py"
    keys = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr.startswith("get")
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "__config__" and node.args
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            keys.add(node.args[0].value)
    return frozenset(keys)


def _kubernetes_keys() -> frozenset[str]:
    from pulumi_kubernetes.provider import ProviderArgs

    parameters = inspect.signature(ProviderArgs.__init__).parameters
    return frozenset(to_camel(name) for name in parameters if name not in ("self", "__self__"))


@functools.cache
def provider_keys() -> dict[str, frozenset[str]]:
    """namespace -> the keys its provider reads (from the installed SDKs)."""
    keys = {namespace: _config_module_keys(package) for namespace, package in CONFIG_MODULES.items()}
    keys["kubernetes"] = _kubernetes_keys()
    keys["pulumi"] = PULUMI_KEYS
    return keys


def unknown_key_problems(present: Iterable[str], project: str, project_keys: Iterable[str]) -> list[str]:
    """One problem per config key no one reads: an unknown namespace, or a key its namespace does not have."""
    known = {**provider_keys(), project: frozenset(project_keys)}
    problems = []
    for full_key in sorted(set(present)):
        namespace, _, key = full_key.partition(":")
        if namespace not in known:
            candidates = [f"{ns}:{k}" for ns, ks in known.items() for k in ks]
            problems.append(f"{full_key}: {namespace!r} is not a namespace this program or its providers read"
                            f"{did_you_mean(full_key, candidates)}")
            continue
        top = key.split(".", 1)[0]  # `--path` keys arrive whole, but a plane's sub-keys are checked by its model
        if top not in known[namespace]:
            hint = " (check the spelling against Pulumi.yaml)" if namespace == project else ""
            problems.append(f"{full_key}: is not a known setting{did_you_mean(top, known[namespace])}{hint}")
    return problems
