"""A plan seen by plane: each resource belongs to the plane of its outermost `kingtavo:<plane>:<Name>` component.

Planes come in the composition root's order: the order in which `__main__.py` builds its top-level components,
read from its source (the engine's registration order is asynchronous, so it is not used), components within a
plane likewise, nested components after their parent. Shared by the plan's text, the cost estimate and the graph.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from tools.harness import PROJECT, ROOT, PlannedResource, PlanResult

STACK_PLANE = "(stack)"


def is_component(resource: PlannedResource) -> bool:
    return resource.type.startswith(f"{PROJECT}:")


def provider_of(resource: PlannedResource) -> str:
    """The package a resource type comes from: `aws`, `kubernetes`, `vercel`, ... (dynamic providers: `dynamic`)."""
    package = resource.type.split(":", 1)[0]
    if package == "pulumi-python" or resource.type.startswith("pulumi-nodejs:dynamic"):
        return "dynamic"
    if package == "pulumi" and resource.type.startswith("pulumi:providers:"):
        return resource.type.rsplit(":", 1)[1]
    return package


def short_type(type_token: str) -> str:
    """The type as the Pulumi CLI shows it: `aws:ec2/natGateway:NatGateway` -> `aws:ec2:NatGateway`."""
    parts = type_token.split(":")
    if len(parts) == 3 and "/" in parts[1]:
        module, _, member = parts[1].rpartition("/")
        if member.lower() == parts[2].lower():
            return f"{parts[0]}:{module}:{parts[2]}"
    return type_token


@cache
def composition_order(main: Path = ROOT / "__main__.py") -> tuple[tuple[str, str], ...]:
    """(class, name) of the components `__main__.py` builds, in source order: `network.Network("network", ...)`
    (a plane module's class) or `Network("network", ...)`."""
    names = []
    for node in ast.walk(ast.parse(main.read_text())):
        if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)):
            continue
        func = node.func
        cls = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if cls[:1].isupper():
            names.append((node.lineno, node.col_offset, (cls, node.args[0].value)))
    return tuple(dict.fromkeys(call for _, _, call in sorted(names)))


@dataclass
class Component:
    resource: PlannedResource | None  # None: resources outside any component
    members: list[PlannedResource]

    @property
    def label(self) -> str:
        return f"{self.resource.type} {self.resource.name}" if self.resource else STACK_PLANE


class PlaneIndex:
    """The plan's resources by plane and by nearest component, in registration order."""

    def __init__(self, plan: PlanResult, main: Path | None = None):
        self.plan = plan
        self.by_urn = {r.urn: r for r in plan.resources}
        order = {name: position for position, name in enumerate(composition_order(main or ROOT / "__main__.py"))}
        components: dict[str | None, Component] = {}
        for resource in plan.resources:
            owner = resource if is_component(resource) else self.nearest_component(resource)
            key = owner.urn if owner else None
            components.setdefault(key, Component(owner, []))
            if not is_component(resource):
                components[key].members.append(resource)

        def position(component: Component) -> tuple:
            top = self.outermost_component(component.resource) if component.resource else None
            if top is None:
                return (len(order) + 1, "", ())
            key = (top.type.rsplit(":", 1)[1], top.name)
            return (order.get(key, len(order)), top.urn, self.component_path(component.resource))

        self.planes: dict[str, list[Component]] = {}
        for component in sorted(components.values(), key=position):
            plane = self.plane_of(component.resource) if component.resource else STACK_PLANE
            self.planes.setdefault(plane, []).append(component)
        self.plane_order = {plane: index for index, plane in enumerate(self.planes)}

    def nearest_component(self, resource: PlannedResource) -> PlannedResource | None:
        parent = self.by_urn.get(resource.parent or "")
        while parent is not None and not is_component(parent):
            parent = self.by_urn.get(parent.parent or "")
        return parent

    def outermost_component(self, resource: PlannedResource) -> PlannedResource | None:
        found = resource if is_component(resource) else None
        parent = self.by_urn.get(resource.parent or "")
        while parent is not None:
            if is_component(parent):
                found = parent
            parent = self.by_urn.get(parent.parent or "")
        return found

    def component_path(self, resource: PlannedResource) -> tuple[tuple[str, str], ...]:
        """(type, name) of each enclosing component from the outermost down to the resource itself."""
        path, node = [], resource
        while node is not None:
            if is_component(node):
                path.append((node.type, node.name))
            node = self.by_urn.get(node.parent or "")
        return tuple(reversed(path))

    def plane_of(self, resource: PlannedResource) -> str:
        top = self.outermost_component(resource)
        return top.type.split(":")[1] if top else STACK_PLANE

    def declared(self, resources: Iterable[PlannedResource] | None = None) -> list[PlannedResource]:
        """Resources this stack declares (custom, not lookups)."""
        return [r for r in (self.plan.resources if resources is None else resources) if r.custom and not r.read]
