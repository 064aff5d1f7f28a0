"""Which URNs a planned resource answers to: its own, its explicit aliases, and those it inherits.

A real `pulumi up` matches a resource to its old state by URN or by an alias. Parents pass their
aliases on: when a component is renamed or re-parented, each child is also known by the URN it
would have under any of the parent's old URNs. `previous_urns` computes that set the way the
engine does (with the mock engine's URN scheme, `MockMonitor.make_urn`), so a test can prove that
a refactoring moves resources without replacing them.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from tools.harness import PlannedResource


def _child_urn(parent_urn: str, type_: str, name: str) -> str:
    stack_project = parent_urn.split("::")[:2]
    parent_type = parent_urn.split("::")[2].split("$")[-1]
    return "::".join([*stack_project, f"{parent_type}${type_}", name])


def previous_urns(resources: Iterable[PlannedResource]) -> dict[str, set[str]]:
    """URN -> every URN the resource answers to (itself, its aliases, and the aliases it inherits)."""
    by_urn = {r.urn: r for r in resources}

    @cache
    def known_as(urn: str) -> frozenset[str]:
        resource = by_urn[urn]
        names = {urn}
        for alias in resource.aliases:
            if isinstance(alias, str):
                names.add(alias)
            else:
                parent, type_, name = alias
                names.update(_child_urn(p, type_, name) for p in (known_as(parent) if parent in by_urn
                                                                   else {parent}))
        if resource.parent in by_urn:
            names.update(_child_urn(p, resource.type, resource.name) for p in known_as(resource.parent))
        return frozenset(names)

    return {urn: set(known_as(urn)) for urn in by_urn}
