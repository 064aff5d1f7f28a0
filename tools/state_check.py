"""Is a stack healthy enough to update? Reads an exported stack state and names what a failed update left behind.

    pulumi stack export --stack kingtavo/kingtavo/production --file state.json
    python -m tools.state_check state.json --stack production

A `pulumi up` that dies midway (runner lost, provider timeout, quota) leaves traces in the state:

- `pending_operations`: operations the engine started and never saw finish (`creating`, `updating`,
  `deleting`, `reading`, `importing`). A pending create may or may not exist in the cloud;
- resources marked `delete: true`: the old half of a create-before-delete replacement whose delete failed;
- resources marked `pendingReplacement: true`: deleted for a delete-before-replace, the replacement never made;
- resources with `initErrors`: created, but they never became ready (a Deployment whose pods do not start).

Each finding comes with what to do about it (docs/runbooks/failed-update.md explains each case). The deploy
workflows run this before `pulumi up` and stop on a non-zero exit. Only URNs, types and names are printed,
never a property value (the export holds ciphertext and plain outputs).

Exit codes: 0 healthy (an empty stack, before the first update, is healthy), 1 findings, 2 unreadable input.

Our own code because nothing else reads a Pulumi checkpoint from Python: the format is the CLI's
`apitype.UntypedDeployment` (`{"version": 3, "deployment": {"resources": [...], "pending_operations": [...]}}`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

RUNBOOK = "docs/runbooks/failed-update.md"
PENDING_KINDS = ("creating", "updating", "deleting", "reading", "importing")


class StateError(ValueError):
    """The file is not an exported stack state."""


@dataclass(frozen=True)
class Finding:
    kind: str  # pending-create, pending-update, pending-delete, pending-read, pending-import,
    #            pending-delete-after-replace, pending-replacement, init-errors
    urn: str
    type: str
    name: str
    action: str
    routing: bool = False  # one of the four resources that route live traffic

    def line(self) -> str:
        flag = " [routing: live traffic]" if self.routing else ""
        return f"{self.kind:<29} {self.type} {self.name}{flag}\n    -> {self.action}"


def urn_parts(urn: str) -> tuple[str, str]:
    """(type, name) of a URN `urn:pulumi:<stack>::<project>::<parent types$>type::<name>`."""
    parts = urn.split("::")
    if len(parts) < 4 or not parts[0].startswith("urn:pulumi:"):
        raise StateError(f"{urn!r} is not a Pulumi URN (expected urn:pulumi:<stack>::<project>::<type>::<name>)")
    return parts[2].rsplit("$", 1)[-1], "::".join(parts[3:])


def is_routing(type_token: str, name: str) -> bool:
    """The resources that decide where live traffic goes: the ETL's live/preview Services, the live/idle aliases."""
    if type_token == "kubernetes:core/v1:Service":
        return name.endswith(("-live-service", "-preview-service"))
    if type_token == "vercel:index/alias:Alias":
        return name.endswith(("-live-alias", "-idle-alias"))
    return False


def load_state(path: str | Path) -> dict[str, Any]:
    """The `deployment` object of a `pulumi stack export` file ("-" reads standard input)."""
    try:
        text = sys.stdin.read() if str(path) == "-" else Path(path).read_text()
    except OSError as error:
        raise StateError(f"{path}: cannot read: {error.strerror}") from error
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise StateError(f"{path}: not JSON ({error.msg} at line {error.lineno}): expected the output of "
                         f"`pulumi stack export`") from error
    return deployment_of(document, str(path))


def deployment_of(document: Any, source: str = "state") -> dict[str, Any]:
    if not isinstance(document, dict) or not isinstance(document.get("deployment"), dict):
        raise StateError(f"{source}: key 'deployment': expected an object, as `pulumi stack export` writes "
                         f"({{\"version\": 3, \"deployment\": {{...}}}})")
    deployment = document["deployment"]
    for key in ("resources", "pending_operations"):
        if deployment.get(key) is not None and not isinstance(deployment[key], list):
            raise StateError(f"{source}: key 'deployment.{key}': expected a list, got {type(deployment[key]).__name__}")
    return deployment


def _action_for_pending(kind: str, urn: str) -> str:
    if kind == "creating":
        return ("the create may or may not have happened. Look the resource up in its provider's console: if it "
                f"exists, adopt it with `pulumi refresh --import-pending-creates '{urn}' <provider id>`; if it does "
                "not, drop the record with `pulumi refresh --clear-pending-creates`. Then run the deploy again.")
    if kind == "updating":
        return "`pulumi refresh` reads the resource's real state and clears the pending update; then deploy again."
    if kind == "deleting":
        return ("`pulumi refresh` drops it from the state if the delete went through; if it still exists, the "
                "next `pulumi up` deletes it again.")
    return f"`pulumi refresh` clears the pending {kind.removesuffix('ing')} operation; then deploy again."


def _finding(kind: str, resource: dict[str, Any], action: str, where: str) -> Finding:
    urn = resource.get("urn")
    if not isinstance(urn, str):
        raise StateError(f"{where}: key 'urn': expected a string")
    type_token, name = urn_parts(urn)
    return Finding(kind, urn, resource.get("type") or type_token, name, action, is_routing(type_token, name))


def check(deployment: dict[str, Any]) -> list[Finding]:
    """Every trace of an interrupted or failed update, pending operations first."""
    findings = []
    for index, operation in enumerate(deployment.get("pending_operations") or []):
        where = f"deployment.pending_operations[{index}]"
        if not isinstance(operation, dict) or not isinstance(operation.get("resource"), dict):
            raise StateError(f"{where}.resource: expected an object")
        kind = operation.get("type")
        if kind not in PENDING_KINDS:
            raise StateError(f"{where}.type: expected one of {', '.join(PENDING_KINDS)}, got {kind!r}")
        short = {"creating": "create", "updating": "update", "deleting": "delete", "reading": "read",
                 "importing": "import"}[kind]
        findings.append(_finding(f"pending-{short}", operation["resource"], _action_for_pending(kind,
                                 operation["resource"].get("urn", "")), where))
    for index, resource in enumerate(deployment.get("resources") or []):
        where = f"deployment.resources[{index}]"
        if not isinstance(resource, dict):
            raise StateError(f"{where}: expected an object")
        if resource.get("delete"):
            findings.append(_finding(
                "pending-delete-after-replace", resource,
                "the old copy from a create-before-delete replacement; its delete failed. The next `pulumi up` "
                "deletes it again; if it is already gone, `pulumi refresh` drops it.", where))
        if resource.get("pendingReplacement"):
            findings.append(_finding(
                "pending-replacement", resource,
                "deleted for a delete-before-replace and never recreated: the next `pulumi up` creates it. If "
                f"the rest of the stack must not move, `pulumi up --target '{resource.get('urn')}'` first.", where))
        if resource.get("initErrors"):
            findings.append(_finding(
                "init-errors", resource,
                "created but never became ready (the provider reported an initialization error). Fix the cause "
                "(image, probe, quota), then `pulumi up` updates it in place.", where))
    return findings


def render(stack: str, deployment: dict[str, Any], findings: list[Finding], runbook: str) -> str:
    count = sum(1 for r in deployment.get("resources") or [] if not str(r.get("type", "")).startswith("pulumi:"))
    if not findings:
        if count == 0:
            return f"stack {stack}: healthy (no resources yet: the first update creates everything)"
        return f"stack {stack}: healthy ({count} resources, no pending operations)"
    lines = [f"stack {stack}: NOT healthy: {len(findings)} trace(s) of an interrupted or failed update. "
             f"No update starts until they are resolved; see {runbook}"]
    if any(f.routing for f in findings):
        lines.append("A routing resource is affected: live traffic may not be where git says. For a flip or a "
                     "rollback, use the targeted flip (runbook: 'A failed flip').")
    lines.extend(f.line() for f in findings)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.state_check", description=__doc__.splitlines()[0])
    parser.add_argument("state", help="a `pulumi stack export` file, or - for standard input")
    parser.add_argument("--stack", default="(unnamed)", help="the stack's name, for the message")
    parser.add_argument("--runbook-url", default=RUNBOOK, help="where the recovery runbook is (printed on failure)")
    parser.add_argument("--json", action="store_true", help="the findings as JSON")
    args = parser.parse_args(argv)
    try:
        deployment = load_state(args.state)
        findings = check(deployment)
    except StateError as error:
        print(f"state_check: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"stack": args.stack, "healthy": not findings, "runbook": args.runbook_url,
                          "findings": [asdict(f) for f in findings]}, indent=2))
    else:
        print(render(args.stack, deployment, findings, args.runbook_url))
    if findings and os.environ.get("GITHUB_ACTIONS") == "true":  # an annotation on the run's summary
        print(f"::error title=Stack {args.stack} is not healthy::{len(findings)} pending operation(s) or half-created "
              f"resource(s); recover first: {args.runbook_url}")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
