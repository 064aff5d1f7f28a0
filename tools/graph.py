"""A stack as a Graphviz DOT graph: planes and components as nested clusters, resources as nodes, and an edge
from each resource to those whose inputs it feeds (the property dependencies the engine records).

    python -m tools.plan --stack staging --graph > staging.dot     # `make graph STACK=staging` renders SVG

DOT is written directly (a few lines of text) rather than through a graph library, so the plan needs no extra
dependency; `dot` (Debian graphviz) renders it.
"""

from __future__ import annotations

from collections import defaultdict

from tools.harness import PlanResult
from tools.planes import Component, PlaneIndex, is_component, short_type


def quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def edges(plan: PlanResult, index: PlaneIndex) -> list[tuple[str, str]]:
    """(dependency URN, dependent URN) between declared resources, deduplicated, sorted."""
    nodes = {r.urn for r in index.declared()}
    found = set()
    for resource in index.declared():
        for urns in resource.property_dependencies.values():
            for urn in urns:
                if urn in nodes and urn != resource.urn:
                    found.add((urn, resource.urn))
    return sorted(found)


def to_dot(plan: PlanResult) -> str:
    index = PlaneIndex(plan)
    ids = {r.urn: f"r{n}" for n, r in enumerate(sorted(index.declared(), key=lambda r: r.urn))}
    children: dict[str, list[Component]] = defaultdict(list)
    tops: dict[str, list[Component]] = defaultdict(list)
    for plane, components in index.planes.items():
        for component in components:
            parent = index.nearest_component(component.resource) if component.resource else None
            if parent is not None:
                children[parent.urn].append(component)
            else:
                tops[plane].append(component)

    lines = [f"digraph {quoted('kingtavo-' + plan.stack)} {{",
             f"  graph [rankdir=LR, fontname=Helvetica, fontsize=12, compound=true, "
             f"label={quoted('stack ' + plan.stack + ': planes, components and resources; edges: input feeds')}];",
             "  node [shape=box, style=rounded, fontname=Helvetica, fontsize=9];",
             "  edge [color=gray40, arrowsize=0.5];"]
    counter = iter(range(10**6))

    def cluster(component: Component, depth: int) -> None:
        pad = "  " * depth
        lines.append(f"{pad}subgraph cluster_{next(counter)} {{")
        lines.append(f"{pad}  label={quoted(component.label)}; style=dashed;")
        for r in sorted(component.members, key=lambda r: (r.type, r.name)):
            if r.urn in ids and not is_component(r):
                style = ", penwidth=2" if r.protect else ""
                lines.append(f"{pad}  {ids[r.urn]} [label={quoted(short_type(r.type) + chr(10) + r.name)}{style}];")
        for child in children.get(component.resource.urn if component.resource else "", []):
            cluster(child, depth + 1)
        lines.append(f"{pad}}}")

    for plane, components in tops.items():
        lines.append(f"  subgraph cluster_{next(counter)} {{")
        lines.append(f"    label={quoted('plane ' + plane)}; style=filled; fillcolor=gray97;")
        for component in components:
            cluster(component, 2)
        lines.append("  }")
    for dependency, dependent in edges(plan, index):
        lines.append(f"  {ids[dependency]} -> {ids[dependent]};")
    lines.append("}")
    return "\n".join(lines) + "\n"
