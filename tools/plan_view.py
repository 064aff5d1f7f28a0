"""The offline plan's text for a person: a summary first, then the planes in the composition root's order.

Every line the summary and the resource rows print fits in `WIDTH` columns: types are shown as the Pulumi CLI
shows them (`aws:ec2:NatGateway`), long names are cut with an ellipsis, long lists wrap. The cost column is
the ESTIMATE from tools/cost.py (prices and assumptions in tools/prices.yaml).
"""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Sequence

from tools.cost import LABEL, LineItem, PriceTable, money
from tools.harness import PlanResult
from tools.planes import PlaneIndex, provider_of, short_type

WIDTH = 120
INDENT = "    "
COST_WIDTH = 12
TYPE_WIDTH_MAX = 46


def fit(text: str, width: int = WIDTH) -> str:
    """The text cut to `width` columns, an ellipsis marking the cut."""
    return text if len(text) <= width else text[: width - 1] + "…"


def _field(label: str, text: str) -> list[str]:
    """`  label      text`, the text wrapped under itself within WIDTH."""
    return textwrap.wrap(text, WIDTH, initial_indent=f"  {label:<11}", subsequent_indent=" " * 13,
                         break_on_hyphens=False) or [f"  {label}"]


def _counts(counter: Counter) -> str:
    return ", ".join(f"{key} {count}" for key, count in counter.items())


def render_summary(plan: PlanResult, index: PlaneIndex, *, violations: Sequence, changes: Sequence | None,
                   overrides: Sequence[str], items: Sequence[LineItem], table: PriceTable,
                   readiness: str) -> list[str]:
    declared = index.declared()
    lookups = [r for r in plan.resources if r.read]
    by_plane = Counter({plane: len(index.declared(r for c in comps for r in c.members))
                        for plane, comps in index.planes.items()})
    by_plane = Counter({plane: n for plane, n in by_plane.items() if n})
    protected = sorted((r for r in declared if r.protect), key=lambda r: (index.plane_order[index.plane_of(r)], r.name))
    lines = ["Summary"]
    lines += _field("resources", f"{len(declared)} declared, {len(lookups)} looked up; by plane: {_counts(by_plane)}")
    lines += _field("providers", _counts(Counter(dict(Counter(provider_of(r) for r in declared).most_common()))))
    lines += _field("protected", f"{len(protected)}: " + ", ".join(r.name for r in protected) if protected
                    else "none (only production protects its stateful resources)")
    if changes is None:
        lines += _field("changes", "not compared; COMPARE=KEY=VALUE (make plan) or --compare shows what a setting "
                                   "changes")
    else:
        kinds = Counter(change.kind for change in changes)
        lines += _field("changes", f"with {' '.join(overrides)}: {len(changes)} resource(s) "
                                   f"({_counts(kinds) or 'none'}); listed at the end")
    mandatory = sum(1 for v in violations if getattr(v, "mandatory", True))
    verdict = (f"{len(violations)} violation(s), {mandatory} mandatory; listed at the end" if violations
               else "no violations")
    lines += _field("policy", f"kingtavo-secret-hygiene: {verdict}")
    lines += _field("readiness", readiness.removeprefix("Readiness: "))
    total = sum(item.monthly for item in items)
    lines += _field("cost", f"{money(total)} per month, an {LABEL} from {table.region} list prices as of "
                            f"{table.as_of} and the usage assumptions in tools/prices.yaml ({table.currency}, not a "
                            f"quote); `make cost` puts the stacks side by side")
    return lines


def render_planes(plan: PlanResult, index: PlaneIndex, items: Sequence[LineItem]) -> list[str]:
    cost_of: Counter = Counter()
    for item in items:
        cost_of[item.urn] += item.monthly
    plane_cost = Counter()
    for item in items:
        plane_cost[item.plane] += item.monthly
    members = [r for comps in index.planes.values() for c in comps for r in c.members]
    type_width = min(TYPE_WIDTH_MAX, max((len(short_type(r.type)) for r in members), default=10))
    name_width = WIDTH - len(INDENT) - type_width - 2 - COST_WIDTH
    lines: list[str] = []
    for plane, components in index.planes.items():
        count = sum(len(index.declared(c.members)) for c in components)
        cost = f", {money(plane_cost[plane])}/month {LABEL.lower()}" if plane in plane_cost else ""
        lines += [f"Plane {plane}  ({count} resources{cost})"]
        for component in components:
            if not component.members:
                continue
            lines.append(fit(f"  {component.label}  ({len(component.members)})"))
            for r in sorted(component.members, key=lambda r: (r.type, r.name)):
                flags = (" [protected]" if r.protect else "") + (" [lookup]" if r.read else "")
                name = fit(r.name + flags, name_width)
                price = money(cost_of[r.urn]) if r.urn in cost_of else ""
                lines.append(f"{INDENT}{fit(short_type(r.type), type_width):<{type_width}}  {name:<{name_width}}"
                             f"{price:>{COST_WIDTH}}".rstrip())
        lines.append("")
    return lines
