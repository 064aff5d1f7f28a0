"""The offline policy gate: apply the secret-hygiene pack to planned resources the way the engine would.

`pulumi preview --policy-pack policies` needs the Pulumi CLI; this does the same judging on the
resources the offline plan (`tools/harness.py`) records, so that tests and `make plan` gate on it:

- every resource policy runs once per resource, with the resource's inputs behind the SDK's
  unknown-checking proxy; every stack policy runs once over all resources (parents and, when the
  planned resources carry them, dependencies resolved, as `AnalyzeStack` does);
- the enforcement level is the pack config's (per policy, else `all`), else the policy's, else the
  pack's; `disabled` skips a policy and `remediate` reports as mandatory, like the SDK;
- a rule that reads an unknown value raises in the SDK; the engine then reports an advisory
  "can't run policy during preview" diagnostic, and so does this gate;
- per-policy config (the per-resource exceptions) reaches the rules through `args.get_config()`.

    violations = evaluate(plan.resources, load_pack_config())
    print(format_violations(violations))

`python -m tools.policy_gate --stack staging [--time]` plans a stack and gates it (exit 1 on a mandatory
violation); `--time` prints how long the pack alone takes over the whole stack (`time_stack`).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from components.core.environments import STACKS
from policies.catalogue import clear_cache
from policies.rules import PACK_ENFORCEMENT, PACK_NAME, POLICIES

ROOT = Path(__file__).resolve().parent.parent
PACK_CONFIG = ROOT / "policies" / "pack-config.json"
LEVELS = {level.value: level for level in EnforcementLevel}


class PlannedResourceLike(Protocol):
    """What the gate reads from a planned resource (`tools.harness.PlannedResource` has all of it)."""

    type: str
    name: str
    urn: str
    inputs: dict
    parent: str | None
    provider: str
    protect: bool


@dataclass(frozen=True)
class Violation:
    """One reported violation: which policy, how enforced, which resource (URN "" = the whole stack), why."""

    policy_name: str
    enforcement_level: str
    urn: str
    resource_name: str
    message: str
    description: str = ""

    @property
    def mandatory(self) -> bool:
        return self.enforcement_level == EnforcementLevel.MANDATORY.value

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


class PackConfigError(ValueError):
    """The pack config does not fit the pack: an unknown policy, a bad level, a malformed exception."""


# --- config -----------------------------------------------------------------------------------------------


def _validate_exceptions(policy_name: str, exceptions: Any) -> list[str]:
    if not isinstance(exceptions, list):
        return [f"{policy_name}.exceptions: expected a list of {{urn, reason}}"]
    problems = []
    for index, entry in enumerate(exceptions):
        where = f"{policy_name}.exceptions[{index}]"
        if not isinstance(entry, Mapping) or set(entry) - {"urn", "reason"}:
            problems.append(f"{where}: expected exactly the keys urn and reason")
            continue
        urn, reason = entry.get("urn"), entry.get("reason")
        if not isinstance(urn, str) or not urn.startswith("urn:pulumi:") or "*" in urn:
            problems.append(f"{where}.urn: expected one resource's exact URN (urn:pulumi:...), no wildcards")
        if not isinstance(reason, str) or len(reason.strip()) < 10:
            problems.append(f"{where}.reason: every exception needs a reason (at least 10 characters)")
    return problems


def _validate_property(policy_name: str, key: str, value: Any, spec: Mapping[str, Any]) -> list[str]:
    """A policy's own config property (e.g. maxRotationDays) against its JSON-schema type and bounds."""
    if spec.get("type") == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            return [f"{policy_name}.{key}: expected an integer"]
        low, high = spec.get("minimum"), spec.get("maximum")
        if (low is not None and value < low) or (high is not None and value > high):
            return [f"{policy_name}.{key}: expected an integer from {low} to {high}, got {value}"]
    return []


def validate_pack_config(config: Mapping[str, Any], policies: Sequence[Policy] = POLICIES) -> None:
    """Raise PackConfigError listing every problem: unknown policy names, levels or config keys, bad exceptions."""
    names = {policy.name for policy in policies}
    schemas = {p.name: (p.config_schema.properties if p.config_schema else {}) for p in policies}
    problems = []
    for name, value in config.items():
        if name != "all" and name not in names:
            problems.append(f"{name}: no such policy in {PACK_NAME}")
            continue
        if isinstance(value, str):
            if value not in LEVELS:
                problems.append(f"{name}: unknown enforcement level {value!r}")
            continue
        if name == "all" or not isinstance(value, Mapping):
            expected = "an enforcement level" if name == "all" else "an enforcement level or an object"
            problems.append(f"{name}: expected {expected}")
            continue
        level = value.get("enforcementLevel")
        if level is not None and level not in LEVELS:
            problems.append(f"{name}.enforcementLevel: unknown enforcement level {level!r}")
        for key in set(value) - {"enforcementLevel", "exceptions"}:
            if key in schemas[name]:
                problems.extend(_validate_property(name, key, value[key], schemas[name][key]))
            else:
                problems.append(f"{name}.{key}: not a config property of this policy")
        if "exceptions" in value:
            problems.extend(_validate_exceptions(name, value["exceptions"]))
    if problems:
        raise PackConfigError("invalid policy pack config:\n" + "\n".join(f"  - {p}" for p in sorted(problems)))


def load_pack_config(path: Path | str = PACK_CONFIG) -> dict[str, Any]:
    """The pack config CI passes with `--policy-pack-config`, validated against the pack."""
    config = json.loads(Path(path).read_text())
    if not isinstance(config, dict):
        raise PackConfigError(f"{path}: expected a JSON object keyed by policy name")
    validate_pack_config(config)
    return config


def enforcement_level(policy: Policy, pack_config: Mapping[str, Any]) -> EnforcementLevel:
    """The level the engine would use: the config's for this policy, else `all`, else the policy's, else the pack's."""
    for key in (policy.name, "all"):
        value = pack_config.get(key)
        level = value if isinstance(value, str) else (value or {}).get("enforcementLevel")
        if isinstance(value, Mapping | str) and level:
            return LEVELS[level]
    return policy.enforcement_level or PACK_ENFORCEMENT


def policy_config(policy: Policy, pack_config: Mapping[str, Any]) -> dict[str, Any]:
    """What `args.get_config()` returns: the policy's properties (defaults from its schema), without the level."""
    value = pack_config.get(policy.name)
    properties = {k: v for k, v in value.items() if k != "enforcementLevel"} if isinstance(value, Mapping) else {}
    schema = policy.config_schema.properties if policy.config_schema else {}
    defaults = {k: copy.deepcopy(spec["default"]) for k, spec in schema.items() if "default" in spec}
    return {**defaults, **copy.deepcopy(properties)}


# --- evaluation -------------------------------------------------------------------------------------------


def _options(resource: PlannedResourceLike) -> PolicyResourceOptions:
    return PolicyResourceOptions(bool(resource.protect), [], None, [], PolicyCustomTimeouts(0, 0, 0), [],
                                 resource.parent or None)


def _reporter(violations: list[Violation], policy: Policy, level: EnforcementLevel, default_urn: str | None,
              names: Mapping[str, str]):
    """A report_violation callback; resource policies always report against their resource, like the engine."""

    def report_violation(message: str, urn: str | None = None) -> None:
        target = default_urn if default_urn is not None else (urn or "")
        violations.append(Violation(policy.name, level.value, target, names.get(target, ""), message,
                                    policy.description))

    return report_violation


def _unknown_diagnostic(policy: Policy, error: UnknownValueError) -> Violation:
    return Violation(policy.name, EnforcementLevel.ADVISORY.value, "", "",
                     f"can't run policy '{policy.name}' from policy pack '{PACK_NAME}' during preview: {error.message}",
                     policy.description)


def _stack_resources(resources: Sequence[PlannedResourceLike]) -> list[PolicyResource]:
    """PolicyResources with parents and (when the planned resources carry them) dependencies resolved."""
    built = {
        r.urn: PolicyResource(r.type, unknown_checking_proxy({**getattr(r, "outputs", {}), **copy.deepcopy(r.inputs)}),
                              r.urn, r.name, _options(r), None, None, [], {})
        for r in resources
    }
    for r in resources:
        policy_resource = built[r.urn]
        policy_resource.parent = built.get(r.parent or "")
        policy_resource.dependencies = [built[urn] for urn in getattr(r, "dependencies", ()) if urn in built]
        for prop, urns in (getattr(r, "property_dependencies", None) or {}).items():
            policy_resource.property_dependencies[prop] = [built[urn] for urn in urns if urn in built]
    return list(built.values())


def evaluate(resources: Iterable[PlannedResourceLike], pack_config: Mapping[str, Any] | None = None,
             policies: Sequence[Policy] = POLICIES) -> list[Violation]:
    """Every violation the pack reports for these resources: resource policies per resource, stack policies once."""
    resources = list(resources)
    pack_config = pack_config or {}
    validate_pack_config(pack_config, policies)
    names = {r.urn: r.name for r in resources}
    violations: list[Violation] = []
    for policy in policies:
        level = enforcement_level(policy, pack_config)
        if level == EnforcementLevel.DISABLED:
            continue
        level = EnforcementLevel.MANDATORY if level == EnforcementLevel.REMEDIATE else level
        config = policy_config(policy, pack_config)
        if isinstance(policy, ResourceValidationPolicy):
            for r in resources:
                args = ResourceValidationArgs(r.type, unknown_checking_proxy(copy.deepcopy(r.inputs)), r.urn, r.name,
                                              _options(r), None, config)
                try:
                    policy.validate(args, _reporter(violations, policy, level, r.urn, names))
                except UnknownValueError as error:
                    violations.append(_unknown_diagnostic(policy, error))
        elif isinstance(policy, StackValidationPolicy):
            args = StackValidationArgs(_stack_resources(resources), config)
            try:
                policy.validate(args, _reporter(violations, policy, level, None, names))
            except UnknownValueError as error:
                violations.append(_unknown_diagnostic(policy, error))
    return violations


def mandatory(violations: Iterable[Violation]) -> list[Violation]:
    """The violations that fail a preview."""
    return [v for v in violations if v.mandatory]


def format_violations(violations: Sequence[Violation]) -> str:
    """People-readable lines: level, policy, resource, then the message (which names the property and the fix)."""
    if not violations:
        return f"{PACK_NAME}: no violations"
    lines = []
    for v in sorted(violations, key=lambda v: (not v.mandatory, v.policy_name, v.urn, v.message)):
        where = f"{v.resource_name} ({v.urn})" if v.urn else "(stack)"
        lines.append(f"    [{v.enforcement_level}] {v.policy_name}: {where}\n        {v.message}")
    return "\n".join(lines)


# --- timing and the command line --------------------------------------------------------------------------


def _declared(stack: str) -> list:
    from tools.harness import run_stack

    return [r for r in run_stack(stack).resources if not r.read]


def time_stack(stack: str, runs: int = 3) -> float:
    """Seconds the pack takes over the whole planned stack (best of `runs`, the plan itself not counted)."""
    resources, config = _declared(stack), load_pack_config()
    evaluate(resources[:1], config)  # imports and first-use caches are not the pack's per-stack cost
    timings = []
    for _ in range(runs):
        clear_cache()  # each run judges every string afresh, as a new `pulumi preview` would
        start = time.perf_counter()
        evaluate(resources, config)
        timings.append(time.perf_counter() - start)
    return min(timings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.policy_gate", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, choices=STACKS)
    parser.add_argument("--time", action="store_true", help="print the pack's time over the stack")
    args = parser.parse_args(argv)
    resources = _declared(args.stack)
    violations = evaluate(resources, load_pack_config())
    print(format_violations(violations))
    if args.time:
        print(f"{PACK_NAME} over {args.stack} ({len(resources)} resources): {time_stack(args.stack):.3f} s")
    return 1 if mandatory(violations) else 0


if __name__ == "__main__":
    sys.exit(main())
