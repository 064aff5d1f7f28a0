"""The bootstrap project's offline plan: what a bootstrap stack would declare, without the CLI or a cloud account.

    python -m bootstrap.plan --stack production
    python -m bootstrap.plan --stack staging --json

It runs `bootstrap/__main__.py` under Pulumi's mock engine (tools/harness.py with root=bootstrap/),
prints the planned resources by component and the outputs the main stacks read through
`pulumi.StackReference("kingtavo/kingtavo-bootstrap/<stack>")`. Exit codes: 0 fine, 2 invalid settings.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tools.harness import PlanResult, run_stack

BOOTSTRAP_ROOT = Path(__file__).resolve().parent
STACKS = ("staging", "production")
# The program imports its components as `kingtavo_bootstrap` (the project directory is on the path under
# the Pulumi CLI); make that true here too.
if str(BOOTSTRAP_ROOT) not in sys.path:
    sys.path.insert(0, str(BOOTSTRAP_ROOT))


def plan(stack: str, overrides: list[str] | tuple[str, ...] = ()) -> PlanResult:
    return run_stack(stack, list(overrides), root=BOOTSTRAP_ROOT)


def _component(plan_result: PlanResult, urn: str | None) -> str:
    index = {r.urn: r for r in plan_result.resources}
    parent = index.get(urn or "")
    while parent is not None and not parent.type.startswith("kingtavo-bootstrap:"):
        parent = index.get(parent.parent or "")
    return f"{parent.type} {parent.name}" if parent else "(stack)"


def render_text(result: PlanResult) -> str:
    lines = [f"Offline plan for bootstrap stack '{result.stack}' (mock engine, no cloud calls)", ""]
    declared = [r for r in result.resources if r.custom and not r.read]
    groups: dict[str, list] = {}
    for r in declared:
        groups.setdefault(_component(result, r.parent), []).append(r)
    for group in sorted(groups):
        lines.append(f"{group}  ({len(groups[group])})")
        for r in sorted(groups[group], key=lambda r: (r.type, r.name)):
            lines.append(f"    {r.type:<62} {r.name}{' [protected]' if r.protect else ''}")
        lines.append("")
    lines.append(f"{len(declared)} resources, {sum(r.protect for r in declared)} protected")
    lines.append("")
    lines.append("Outputs (read by the main stacks through a StackReference):")
    lines.extend(f"    {name}: {json.dumps(result.outputs[name])}" for name in sorted(result.outputs))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bootstrap.plan", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, choices=STACKS)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    from kingtavo_bootstrap.settings import BootstrapSettingsError

    try:
        result = plan(args.stack, args.overrides)
    except BootstrapSettingsError as error:
        print(error, file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"stack": result.stack, "outputs": result.outputs, "resources": [
            {"type": r.type, "name": r.name, "urn": r.urn, "protect": r.protect, "inputs": r.inputs}
            for r in sorted(result.resources, key=lambda r: r.urn) if not r.read]}, indent=2, sort_keys=True))
    else:
        print(render_text(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
