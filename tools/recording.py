"""What the offline plan records: each registered resource as a `PlannedResource`, and the mock monitor that
records them (type, name, URN, parent, protect, provider, inputs raw and unwrapped, outputs, property
dependencies, aliases). It fails a registration whose URN is already taken, as the real engine does.

Split from tools/harness.py, which runs the program; tests and tools import these names from either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PROJECT = "kingtavo"  # component types are `kingtavo:<plane>:<Name>`


@dataclass(frozen=True)
class PlannedResource:
    """One resource the program registered (what the engine would plan), as a policy sees it."""

    type: str
    name: str
    urn: str
    inputs: dict
    raw_inputs: dict
    parent: str | None
    provider: str
    protect: bool
    custom: bool
    read: bool = False  # a lookup of an existing resource (`.get`), not one this stack declares
    outputs: dict = field(default_factory=dict)  # what the mocks answered (ids, ARNs, endpoints)
    # input property -> URNs of the resources its value came from, as the engine records them
    property_dependencies: dict = field(default_factory=dict)
    # explicit `aliases=`: a URN, or (parent URN, type, name) as the engine resolves an alias spec
    aliases: tuple = ()


@dataclass
class PlanResult:
    stack: str
    resources: list[PlannedResource]
    outputs: dict[str, Any]
    secret_outputs: set[str]
    secrets: dict[str, Any] = field(default_factory=dict)  # the fake secret config values used

    def by_type(self, type_token: str) -> list[PlannedResource]:
        return [r for r in self.resources if r.type == type_token and not r.read]

    def one(self, type_token: str, name: str | None = None) -> PlannedResource:
        matches = [r for r in self.by_type(type_token) if name is None or r.name == name]
        if len(matches) != 1:
            raise LookupError(f"expected one {type_token} named {name!r}, found {[r.name for r in matches]}")
        return matches[0]

    def named(self, name: str) -> PlannedResource:
        matches = [r for r in self.resources if r.name == name]
        if len(matches) != 1:
            raise LookupError(f"expected one resource named {name!r}, found {len(matches)}")
        return matches[0]

    def children_of(self, urn: str) -> list[PlannedResource]:
        return [r for r in self.resources if r.parent == urn]

    def component_of(self, resource: PlannedResource) -> PlannedResource | None:
        """The nearest enclosing `kingtavo:` component."""
        index = {r.urn: r for r in self.resources}
        parent = index.get(resource.parent or "")
        while parent is not None and not parent.type.startswith(f"{PROJECT}:"):
            parent = index.get(parent.parent or "")
        return parent


def is_secret_wrapper(value: Any) -> bool:
    from pulumi.runtime import rpc

    return rpc.is_rpc_secret(value)


def unwrap(value: Any) -> Any:
    """Remove Pulumi's secret wrappers, recursively: the plain values a policy pack sees (whole numbers as int)."""
    if is_secret_wrapper(value):
        return unwrap(value["value"])
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the engine's wire format carries every number as a double
    return value


def plain_assets(value: Any) -> Any:
    """Assets and archives as plain dicts (`{"fileArchive": "build/x.zip"}`), recursively.

    The SDK's asset objects compare by identity, so two runs of the same program would
    otherwise show every Lambda's `code` as changed.
    """
    from pulumi import asset

    if isinstance(value, asset.AssetArchive):
        return {"assetArchive": {name: plain_assets(item) for name, item in value.assets.items()}}
    for kind, attribute in ((asset.FileArchive, "path"), (asset.RemoteArchive, "uri"), (asset.FileAsset, "path"),
                            (asset.StringAsset, "text"), (asset.RemoteAsset, "uri")):
        if isinstance(value, kind):
            return {kind.__name__[0].lower() + kind.__name__[1:]: getattr(value, attribute)}
    if isinstance(value, dict):
        return {k: plain_assets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_assets(v) for v in value]
    return value


class DuplicateResourceError(Exception):
    """Two resources with one URN: the real engine fails the update, so the offline plan does too."""


def _make_monitor(mocks):
    """A MockMonitor that also records parent, protect and provider of every registration."""
    from pulumi.runtime import mocks as pulumi_mocks
    from pulumi.runtime import rpc

    class RecordingMonitor(pulumi_mocks.MockMonitor):
        def __init__(self, inner):
            super().__init__(inner)
            self.registrations: list[PlannedResource] = []
            self.urns: set[str] = set()

        def _record(self, request, read: bool) -> None:
            if request.type == "pulumi:pulumi:Stack":
                return
            raw = plain_assets(rpc.deserialize_properties(request.properties if read else request.object))
            urn = self.make_urn(request.parent, request.type, request.name)
            if urn in self.urns:
                # The engine refuses a second resource with the same URN (type, name and parent chain).
                raise DuplicateResourceError(f"duplicate resource URN {urn}: two resources of type {request.type} "
                                             f"are named {request.name!r} under the same parent")
            self.urns.add(urn)
            registered = self.resources.get(urn)
            self.registrations.append(PlannedResource(
                type=request.type, name=request.name, urn=urn, inputs=unwrap(raw), raw_inputs=raw,
                parent=request.parent or None, provider=request.provider,
                protect=bool(getattr(request, "protect", False)), custom=bool(getattr(request, "custom", True)),
                read=read, outputs=unwrap(registered.state) if registered else {},
                property_dependencies={key: list(deps.urns) for key, deps in request.propertyDependencies.items()}
                if not read else {},
                aliases=tuple(self._alias_urn(alias, request) for alias in getattr(request, "aliases", ()))))

        def _alias_urn(self, alias, request):
            """An alias: its URN, or (parent URN, type, name) for a spec, resolved against the new parent."""
            if alias.urn:
                return alias.urn
            spec = alias.spec
            parent = "" if spec.noParent else (spec.parentUrn or request.parent)
            return (parent, spec.type or request.type, spec.name or request.name)

        def RegisterResource(self, request):  # noqa: N802 - the engine's RPC name
            response = super().RegisterResource(request)
            self._record(request, read=False)
            return response

        def ReadResource(self, request):  # noqa: N802
            response = super().ReadResource(request)
            self._record(request, read=True)
            return response

    return RecordingMonitor(mocks)
