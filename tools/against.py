"""Drift in the offline plan: compare what git declares with an exported stack state.

    pulumi stack export --stack kingtavo/kingtavo/production --file state.json   # best after `pulumi refresh`
    python -m tools.against --stack production --state state.json

The plan (the real program under the mock engine, `tools/harness.py`) is what git says; the export is what
the stack recorded. Every declared resource is looked up by URN in the state:

- missing from the state: `create` (deleted outside Pulumi and refreshed away, or never created);
- in the state but no longer declared: `delete`;
- both: the input property paths whose values differ, `update`. Keys the provider filled in (listed in
  the state's `__defaults`) and bookkeeping keys (`__...`) are not compared; a secret the export holds as
  ciphertext is compared by presence only, one exported with `--show-secrets` by value.

Provider resources (`pulumi:providers:*`, their credentials and kubeconfig) and components are not compared.

The report is `tools.drift`'s (names and property paths, never values; routing resources are critical),
so a drift the nightly check found can be reproduced and reviewed offline. Exit codes: 0 no drift, 1 drift,
2 invalid settings or an unreadable state file.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from components.core.environments import STACKS
from tools.drift import Drift, DriftReport, property_path, render_text
from tools.state_check import StateError, is_routing, load_state, urn_parts

if TYPE_CHECKING:
    from tools.harness import PlanResult

SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG_VALUE = "1b47061264138c4ac30d75fd1eb44270"
OPAQUE = object()  # a secret whose value the export does not show


def _plain(value: Any) -> Any:
    """A state or plan value with secrets unwrapped (ciphertext -> OPAQUE) and whole floats as ints."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG_KEY) == SECRET_SIG_VALUE:
            if "plaintext" in value:  # `pulumi stack export --show-secrets`
                return _plain(json.loads(value["plaintext"]))
            if "value" in value:  # the mock engine's wire form
                return _plain(value["value"])
            return OPAQUE
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _diff(planned: Any, recorded: Any, path: list[str | int]) -> list[str]:
    if planned is OPAQUE or recorded is OPAQUE:
        return [] if (planned is None) == (recorded is None) else [property_path(path)]
    if isinstance(planned, dict) and isinstance(recorded, dict):
        defaults = set(recorded.get("__defaults") or [])
        paths = []
        for key in sorted(set(planned) | set(recorded)):
            if key.startswith("__") or (key not in planned and key in defaults):
                continue
            paths.extend(_diff(planned.get(key), recorded.get(key), [*path, key]))
        return paths
    if isinstance(planned, list) and isinstance(recorded, list) and len(planned) == len(recorded):
        paths = []
        for index, (p, r) in enumerate(zip(planned, recorded, strict=True)):
            paths.extend(_diff(p, r, [*path, index]))
        return paths
    return [] if planned == recorded else [property_path(path)]


def _managed(type_token: str, custom: bool) -> bool:
    return custom and type_token != "pulumi:pulumi:Stack" and not type_token.startswith("pulumi:providers:")


def compare_with_state(plan: PlanResult, state: dict) -> list[Drift]:
    """Drift between a plan and a state (`pulumi stack export`'s document, or its `deployment` object)."""
    from tools.state_check import deployment_of

    deployment = deployment_of(state) if "deployment" in state else deployment_of({"deployment": state})
    recorded: dict[str, dict] = {}
    for index, resource in enumerate(deployment.get("resources") or []):
        if not isinstance(resource, dict) or not isinstance(resource.get("urn"), str):
            raise StateError(f"state: deployment.resources[{index}].urn: expected a string")
        type_token, _ = urn_parts(resource["urn"])
        if _managed(resource.get("type", type_token), bool(resource.get("custom"))) and not resource.get("delete"):
            recorded[resource["urn"]] = resource
    declared = {r.urn: r for r in plan.resources if _managed(r.type, r.custom) and not r.read}
    drifts = []
    for urn in sorted(set(declared) | set(recorded)):
        type_token, name = urn_parts(urn)
        routing = is_routing(type_token, name)
        if urn not in recorded:
            drifts.append(Drift("create", type_token, name, urn, (), routing))
        elif urn not in declared:
            drifts.append(Drift("delete", type_token, name, urn, (), routing))
        else:
            inputs = recorded[urn].get("inputs") or {}
            paths = _diff(_plain(declared[urn].raw_inputs), _plain(inputs), [])
            if paths:
                drifts.append(Drift("update", type_token, name, urn, tuple(paths), routing))
    return sorted(drifts, key=lambda d: (not d.routing, d.type, d.name))


def state_from_plan(plan: PlanResult, secrets_as: str = "ciphertext") -> dict[str, Any]:
    """A `pulumi stack export` document recording exactly what the plan declares (a clean stack).

    Secret inputs are written the way the export holds them: `ciphertext` (an opaque placeholder, never the
    value) or `plaintext` (as `--show-secrets` writes them). Used by the tests to craft drifted states.
    """
    def encode(value: Any) -> Any:
        if isinstance(value, dict) and value.get(SECRET_SIG_KEY) == SECRET_SIG_VALUE:
            if secrets_as == "plaintext":
                return {SECRET_SIG_KEY: SECRET_SIG_VALUE, "plaintext": json.dumps(_plain(value["value"]))}
            return {SECRET_SIG_KEY: SECRET_SIG_VALUE, "ciphertext": "v1:offline-plan-placeholder"}
        if isinstance(value, dict):
            return {k: encode(v) for k, v in value.items()}
        if isinstance(value, list):
            return [encode(v) for v in value]
        return value

    stack_urn = f"urn:pulumi:{plan.stack}::kingtavo::pulumi:pulumi:Stack::kingtavo-{plan.stack}"
    resources: list[dict[str, Any]] = [{"urn": stack_urn, "custom": False, "type": "pulumi:pulumi:Stack"}]
    for r in plan.resources:
        if r.read:
            continue
        resources.append({"urn": r.urn, "custom": r.custom, "type": r.type, "id": f"{r.name}-id" if r.custom else "",
                          "parent": r.parent or stack_urn, "protect": r.protect, "inputs": encode(r.raw_inputs),
                          "outputs": {}})
    return {"version": 3, "deployment": {"manifest": {"time": "offline", "version": "offline"},
                                         "resources": resources, "pending_operations": []}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.against", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, choices=STACKS)
    parser.add_argument("--state", required=True, help="a `pulumi stack export` file (- for standard input)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a setting for the plan (e.g. activeColor=green)")
    parser.add_argument("--json", action="store_true", help="the report as JSON")
    args = parser.parse_args(argv)

    from components.core.settings import SettingsError
    from tools.harness import run_stack

    try:
        state = {"deployment": load_state(args.state)}
        plan = run_stack(args.stack, args.overrides)
        report = DriftReport(args.stack, compare_with_state(plan, state), source="state")
    except StateError as error:
        print(f"against: {error}", file=sys.stderr)
        return 2
    except SettingsError as error:
        print(f"stack {args.stack}: {error}", file=sys.stderr)
        return 2
    print(json.dumps(report.as_dict(), indent=2) if args.json else render_text(report))
    return 0 if report.status == "clean" else 1


if __name__ == "__main__":
    sys.exit(main())
