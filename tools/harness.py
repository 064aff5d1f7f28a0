"""Run the real Pulumi program under Pulumi's mock engine, with a stack's YAML config.

This is how the offline plan (`tools/plan.py`) and the tests see the program without the
Pulumi CLI, provider plugins or cloud credentials:

- config comes from `Pulumi.<stack>.yaml` exactly as committed (plus `--compare`-style
  overrides), and every key `Pulumi.yaml` declares `secret: true` gets a generated, obviously
  fake value (`fake-<key>-<hash>`), deterministic per stack so that two runs compare equal;
- the mocks answer the invokes the program uses with realistic values (zones, caller identity,
  region, partition) and give resources realistic outputs (ARNs, ids, endpoints);
- every registered resource is recorded with its type, name, URN, parent, protect flag and
  inputs, both raw (secret-wrapped values still marked) and unwrapped (as a policy sees them).

A mock that is asked for an invoke it does not know fails loudly, so a new data source is
mocked on purpose rather than silently answered with nothing.
"""

from __future__ import annotations

import functools
import hashlib
import json
import runpy
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from tools.mocks import (  # noqa: F401 - re-exported for the tests
    DEFAULT_REGION,
    FAKE_ACCOUNT_ID,
    MockAdapter,
    vercel_deployment,
    vercel_project_id,
)
from tools.recording import (  # noqa: F401 - re-exported for the tests and tools
    DuplicateResourceError,
    PlannedResource,
    PlanResult,
    _make_monitor,
    is_secret_wrapper,
    plain_assets,
    unwrap,
)

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "kingtavo"  # the main program's; another project's (bootstrap/) comes from its Pulumi.yaml


def project_name(root: Path = ROOT) -> str:
    """The `name:` of `root/Pulumi.yaml`: the config namespace and the project in every URN."""
    return str(yaml.safe_load((root / "Pulumi.yaml").read_text())["name"])


# --- config ------------------------------------------------------------------------------------------------


def project_declarations(root: Path = ROOT) -> dict[str, dict]:
    """Pulumi.yaml's `config:` block, keyed by bare key name."""
    project = yaml.safe_load((root / "Pulumi.yaml").read_text())
    declared = {}
    for key, spec in (project.get("config") or {}).items():
        bare = key.split(":", 1)[1] if key.startswith(f"{project['name']}:") else key
        declared[bare] = spec if isinstance(spec, dict) else {"default": spec}
    return declared


def stack_config(stack: str, root: Path = ROOT) -> dict[str, Any]:
    """The committed `Pulumi.<stack>.yaml` config, full keys (`kingtavo:network`, `aws:region`)."""
    path = root / f"Pulumi.{stack}.yaml"
    if not path.exists():
        raise FileNotFoundError(f"no stack file {path.name}: expected one of Pulumi.staging.yaml, "
                                f"Pulumi.production.yaml")
    return dict((yaml.safe_load(path.read_text()) or {}).get("config") or {})


def fake_secret(stack: str, key: str) -> str:
    """An obviously fake secret value, stable per stack and key (so two plans compare equal)."""
    digest = hashlib.sha256(f"{stack}/{key}".encode()).hexdigest()[:16]
    return f"fake-{key.replace('.', '-')}-{digest}"


def fake_secrets(stack: str, config: Mapping[str, Any], root: Path = ROOT) -> dict[str, Any]:
    """A fake value for every declared secret not set in config; maps get one entry per listed name."""
    from components.core.settings import SECRET_KEYS

    project = project_name(root)
    fakes: dict[str, Any] = {}
    for key, spec in project_declarations(root).items():
        if not spec.get("secret") or f"{project}:{key}" in config:
            continue
        if spec.get("type") == "object":
            names_key = SECRET_KEYS.get(key)
            names: list[str] = []
            if names_key:
                plane, names_field = names_key.split(".")
                names = list((config.get(f"{project}:{plane}") or {}).get(names_field) or [])
            fakes[f"{project}:{key}"] = {name: fake_secret(stack, f"{key}.{name}") for name in names}
        else:
            fakes[f"{project}:{key}"] = fake_secret(stack, key)
    return fakes


def apply_override(config: dict[str, Any], assignment: str, project: str = PROJECT) -> None:
    """`KEY=VALUE` with KEY a config key (`activeColor`, `etl.green.image`, `aws:region`); VALUE YAML-parsed.

    `KEY=~` (YAML null) removes the setting.
    """
    if "=" not in assignment:
        raise ValueError(f"override {assignment!r}: expected KEY=VALUE, e.g. activeColor=green")
    key, raw = assignment.split("=", 1)
    value = yaml.safe_load(raw) if raw else ""
    if ":" in key:
        namespace, key = key.split(":", 1)
    else:
        namespace = project
    top, *path = key.split(".")
    full = f"{namespace}:{top}"
    if not path:
        if value is None:  # KEY=~ removes the setting
            config.pop(full, None)
        else:
            config[full] = value
        return
    node = config.setdefault(full, {})
    for part in path[:-1]:
        node = node.setdefault(part, {})
    if value is None:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value


def _engine_value(value: Any) -> str:
    """The engine hands the program strings; objects and lists as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


# --- running -----------------------------------------------------------------------------------------------


def build_config(stack: str, overrides: list[str] | tuple[str, ...] = (), root: Path = ROOT,
                 secrets: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(config, secret values) as the engine would hand them to the program."""
    config = stack_config(stack, root)
    for assignment in overrides:
        apply_override(config, assignment, project_name(root))
    secret_values = dict(secrets) if secrets is not None else fake_secrets(stack, config, root)
    return config, secret_values


BOOTSTRAP_ROOT = ROOT / "bootstrap"
BOOTSTRAP_PROJECT = "kingtavo-bootstrap"


def referenced_stack_outputs(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The outputs of the bootstrap stacks the main stack references, from their own offline plans.

    So the main plan consumes exactly what the bootstrap plan exports, names included: a renamed
    output fails the main plan here as `require_output` would fail a real `pulumi up`.
    """
    names = sorted({name for name in (config.get(f"{PROJECT}:bootstrap") or {}).values() if isinstance(name, str)})
    return {name: dict(_bootstrap_outputs(name)) for name in names}


@functools.cache
def _bootstrap_outputs(qualified: str) -> tuple[tuple[str, Any], ...]:
    org, project, stack = qualified.split("/")
    if project != BOOTSTRAP_PROJECT:
        raise NotImplementedError(f"the offline plan only answers StackReferences to {BOOTSTRAP_PROJECT}, not "
                                  f"{qualified!r}")
    if str(BOOTSTRAP_ROOT) not in sys.path:
        sys.path.insert(0, str(BOOTSTRAP_ROOT))
    result = run_stack(stack, root=BOOTSTRAP_ROOT)
    return tuple(sorted(result.outputs.items()))


def run_stack(stack: str, overrides: list[str] | tuple[str, ...] = (), root: Path = ROOT,
              secrets: Mapping[str, Any] | None = None) -> PlanResult:
    """Run `__main__.py` for a stack under the mock engine and return what it registered.

    Raises the program's exception (for example `SettingsError`) when it fails.
    """
    import pulumi
    from pulumi.runtime import settings as runtime_settings

    config, secret_values = build_config(stack, overrides, root, secrets)
    engine_config = {key: _engine_value(value) for key, value in {**config, **secret_values}.items()}
    region = str(config.get("aws:region", DEFAULT_REGION))

    # the main project's stacks reference the bootstrap stacks (this repository's bootstrap/, also for a copy)
    mocks = MockAdapter.build(region, referenced_stack_outputs(config) if project_name(root) == PROJECT else None)
    monitor = _make_monitor(mocks)
    runtime_settings.ROOT.set(None)
    pulumi.runtime.set_mocks(mocks, project=project_name(root), stack=stack, preview=False, monitor=monitor)
    pulumi.runtime.set_all_config(engine_config, secret_keys=list(secret_values))

    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    outputs: dict[str, Any] = {}
    secret_outputs: set[str] = set()

    exported_values: dict[str, Any] = {}

    @pulumi.runtime.test
    def program():
        runpy.run_path(str(root / "__main__.py"), run_name="__main__")
        for name, value in runtime_settings.get_root_resource().outputs.items():
            exported_values[name] = pulumi.Output.from_input(value)
        return pulumi.Output.all(*exported_values.values())

    try:
        program()
    except Exception as error:
        # Tests check that a failed run registered nothing: keep what it did register on the error.
        error.registered_resources = list(monitor.registrations)  # type: ignore[attr-defined]
        raise
    from pulumi.runtime.sync_await import _sync_await

    for name, output in sorted(exported_values.items()):
        outputs[name] = _sync_await(output.future())
        if _sync_await(output.is_secret()):
            secret_outputs.add(name)
    return PlanResult(stack=stack, resources=list(monitor.registrations), outputs=outputs,
                      secret_outputs=secret_outputs, secrets=secret_values)
