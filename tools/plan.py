"""The offline plan: what a stack would declare, without the Pulumi CLI, plugins or a cloud account.

    python -m tools.plan --stack staging
    python -m tools.plan --stack production --compare activeColor=green
    python -m tools.plan --stack staging --json
    python -m tools.plan --stack staging --graph | dot -Tsvg > staging.svg

It runs the real program under Pulumi's mock engine with the stack's committed settings and
generated fake secrets (tools/harness.py) and prints a summary (resources per plane and provider,
protected resources, changes, policy verdict, placeholders, estimated monthly cost), then the
planes in the composition root's order (tools/plan_view.py), the stack outputs (secrets masked),
and the verdicts of the secret-hygiene policy pack.
`--compare KEY=VALUE` runs the stack a second time with the override and lists the resources
whose inputs change. Exit codes: 0 fine, 1 a mandatory policy violation, 2 invalid settings.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from dataclasses import dataclass
from typing import Any

from components.core.environments import STACKS
from tools.harness import PlanResult, is_secret_wrapper, run_stack

MASK = "[secret]"


def masked(value: Any) -> Any:
    """The value with every Pulumi secret replaced by a mask."""
    if is_secret_wrapper(value):
        return MASK
    if isinstance(value, dict):
        return {k: masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v) for v in value]
    return value


@dataclass(frozen=True)
class Change:
    kind: str  # "update", "create", "delete"
    type: str
    name: str
    paths: tuple[str, ...] = ()


def _diff_paths(before: Any, after: Any, path: str = "") -> list[str]:
    if isinstance(before, dict) and isinstance(after, dict):
        paths = []
        for key in sorted(set(before) | set(after)):
            paths.extend(_diff_paths(before.get(key), after.get(key), f"{path}.{key}" if path else key))
        return paths
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        paths = []
        for index, (b, a) in enumerate(zip(before, after, strict=True)):
            paths.extend(_diff_paths(b, a, f"{path}[{index}]"))
        return paths
    return [] if before == after else [path or "(value)"]


def compare(base: PlanResult, other: PlanResult) -> list[Change]:
    """Resources whose inputs differ between two runs of one stack, and those only one run declares."""
    before = {r.urn: r for r in base.resources if r.custom and not r.read}
    after = {r.urn: r for r in other.resources if r.custom and not r.read}
    changes = []
    for urn in sorted(set(before) | set(after)):
        if urn not in after:
            changes.append(Change("delete", before[urn].type, before[urn].name))
        elif urn not in before:
            changes.append(Change("create", after[urn].type, after[urn].name))
        else:
            paths = _diff_paths(before[urn].raw_inputs, after[urn].raw_inputs)
            if paths:
                changes.append(Change("update", after[urn].type, after[urn].name, tuple(paths)))
    return changes


def policy_verdicts(plan: PlanResult) -> list:
    from tools.policy_gate import evaluate, load_pack_config

    return evaluate([r for r in plan.resources if not r.read], load_pack_config())


def render_text(plan: PlanResult, violations: list, changes: list[Change] | None, overrides: list[str]) -> str:
    """The summary, the planes in the composition root's order, the outputs, the verdicts and the changes."""
    from tools.cost import estimate, load_prices
    from tools.plan_view import INDENT, WIDTH, fit, render_planes, render_summary
    from tools.planes import PlaneIndex, short_type

    index, table = PlaneIndex(plan), load_prices()
    items = estimate(plan, table)
    lines = [f"Offline plan for stack '{plan.stack}' (mock engine, fake secrets, no cloud calls)", ""]
    lines += render_summary(plan, index, violations=violations, changes=changes, overrides=overrides, items=items,
                            table=table, readiness=placeholder_line(plan.stack))
    lines.append("")
    lines += render_planes(plan, index, items)
    lines.append("Outputs:")
    for name in sorted(plan.outputs):
        value = MASK if name in plan.secret_outputs else json.dumps(masked(plan.outputs[name]))
        lines.extend(textwrap.wrap(f"{name}: {value}", WIDTH, initial_indent=INDENT, subsequent_indent=INDENT * 2,
                                   break_on_hyphens=False))
    lines.append("")
    lines.extend(render_violations(violations))
    if changes is not None:
        lines.append("")
        lines.append(f"Compared with {' '.join(overrides)}: {len(changes)} resource(s) change")
        for change in changes:
            detail = f"  ({', '.join(change.paths)})" if change.paths else ""
            lines.append(fit(f"{INDENT}{change.kind:<7} {short_type(change.type)} {change.name}{detail}"))
    return "\n".join(lines)


def placeholder_line(stack: str) -> str:
    from tools.readiness import check

    count = len(check(stack))
    if not count:
        return "Readiness: no placeholder left (python -m tools.readiness)"
    return (f"Readiness: {count} setting(s) still hold a placeholder; `python -m tools.readiness --stack {stack}` "
            f"lists them (a real deploy refuses them)")


def render_violations(violations: list) -> list[str]:
    from tools.policy_gate import format_violations

    if not violations:
        return ["Policy pack kingtavo-secret-hygiene: no violations"]
    return [f"Policy pack kingtavo-secret-hygiene: {len(violations)} violation(s)", format_violations(violations)]


def render_json(plan: PlanResult, violations: list, changes: list[Change] | None) -> str:
    document = {
        "stack": plan.stack,
        "resources": [
            {"type": r.type, "name": r.name, "urn": r.urn, "parent": r.parent, "protect": r.protect,
             "lookup": r.read, "custom": r.custom, "inputs": masked(r.raw_inputs)}
            for r in sorted(plan.resources, key=lambda r: r.urn)
        ],
        "outputs": {name: MASK if name in plan.secret_outputs else masked(plan.outputs[name])
                    for name in sorted(plan.outputs)},
        "violations": [v.as_dict() if hasattr(v, "as_dict") else vars(v) for v in violations],
    }
    if changes is not None:
        document["changes"] = [vars(c) | {"paths": list(c.paths)} for c in changes]
    return json.dumps(document, indent=2, sort_keys=True, default=str)


def routing_urns(plan: PlanResult, overrides: list[str]) -> list[str]:
    """The resources that read `kingtavo:activeColor`: those whose inputs change when the color flips."""
    from components.core.settings import Colors

    flipped = run_stack(plan.stack, [*overrides, f"activeColor={Colors.of(plan.outputs['liveColor']).idle}"])
    names = {(c.type, c.name) for c in compare(plan, flipped)}
    return sorted(r.urn for r in plan.resources if (r.type, r.name) in names and not r.read)


def _against(plan: PlanResult, path: str) -> int:
    from tools.against import compare_with_state
    from tools.drift import DriftReport
    from tools.drift import render_text as render_drift
    from tools.state_check import StateError, load_state

    try:
        state = load_state(path)
    except StateError as error:
        print(f"--against {path}: {error}", file=sys.stderr)
        return 2
    drifts = compare_with_state(plan, {"deployment": state})
    print(render_drift(DriftReport(plan.stack, drifts, source="state")))
    return 1 if drifts else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.plan", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, choices=STACKS)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a setting for this run (e.g. etl.green.image=...)")
    parser.add_argument("--compare", action="append", default=[], metavar="KEY=VALUE",
                        help="run again with this override and list the resources whose inputs change")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--against", metavar="STATE.json",
                        help="compare the plan with an exported stack state (`pulumi stack export`): the drift")
    parser.add_argument("--graph", action="store_true",
                        help="print a Graphviz DOT graph of planes, components, resources and their dependencies")
    parser.add_argument("--routing-urns", action="store_true",
                        help="print the URNs of the resources a flip of activeColor changes (for `pulumi up --target`)")
    args = parser.parse_args(argv)

    from components.core.settings import SettingsError

    try:
        plan = run_stack(args.stack, args.overrides)
        changes = compare(plan, run_stack(args.stack, [*args.overrides, *args.compare])) if args.compare else None
    except SettingsError as error:
        print(f"stack {args.stack}: {error}", file=sys.stderr)
        return 2
    if args.graph:
        from tools.graph import to_dot

        print(to_dot(plan), end="")
        return 0
    if args.routing_urns:
        for urn in routing_urns(plan, args.overrides):
            print(urn)
        return 0
    if args.against:
        return _against(plan, args.against)
    violations = policy_verdicts(plan)
    print(render_json(plan, violations, changes) if args.json else render_text(plan, violations, changes,
                                                                                 args.compare))
    return 1 if any(getattr(v, "enforcement_level", "mandatory") == "mandatory" for v in violations) else 0


if __name__ == "__main__":
    sys.exit(main())
