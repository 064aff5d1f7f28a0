"""Drift reports: which resources moved away from what git says, by name and property path, never by value.

    pulumi preview --stack S --refresh --expect-no-changes --diff --json > preview.json; code=$?
    python -m tools.drift report --stack S --preview preview.json --preview-exit-code "$code" \
        --out drift.json --slack-out slack.json --run-url "$RUN_URL"
    python -m tools.drift post --message slack.json          # SLACK_WEBHOOK_URL from the environment

A report comes from a refreshed preview's JSON digest (its `steps`: every op but `same`, `read` and `refresh`
is a change the next `pulumi up` would make, so drift when the code has not changed) or from the offline
comparison of a plan with an exported state (`tools/against.py`). Property paths are the keys of the step's
`detailedDiff` (else its `diffReasons`/`replaceReasons`); values in `oldState`/`newState` are never read.

The routing resources (the ETL's live and preview Services, the Vercel live and idle aliases) drifting is
critical: live traffic is not where git says. Statuses: `clean`, `drift`, `critical`, and `error` when the
preview failed without showing a change (it judged nothing). Exit codes of `report`: 0 clean, 1 drift or
critical, 2 error or unreadable input.

The Slack message is an incoming-webhook payload (`text` plus Block Kit sections); posting it is one HTTPS
POST with the standard library (no Slack SDK needed for that), retried once on 429/5xx. The webhook URL is a
secret: it is read from the environment and never printed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tools.state_check import RUNBOOK, is_routing, urn_parts

NO_CHANGE_OPS = {"same", "read", "refresh"}
REPLACE_OPS = {"replace", "create-replacement", "delete-replaced", "read-replacement", "import-replacement",
               "discard-replaced"}
SLACK_MAX_LISTED = 25
SLACK_SECTION_LIMIT = 2900  # Slack refuses a section text over 3000 characters


class DriftInputError(ValueError):
    """The input is not what the report reads (a preview digest, a state comparison)."""


@dataclass(frozen=True)
class Drift:
    """One resource that differs: what the next `pulumi up` would do to it, and which property paths."""

    change: str  # create (missing from the stack), update, replace, delete (no longer declared), or another op
    type: str
    name: str
    urn: str
    paths: tuple[str, ...] = ()
    routing: bool = False


@dataclass
class DriftReport:
    stack: str
    drifts: list[Drift] = field(default_factory=list)
    source: str = "preview"  # preview (refreshed `pulumi preview`) or state (offline comparison)
    error: str | None = None  # set when the check could not judge

    @property
    def status(self) -> str:
        if self.error:
            return "error"
        if any(d.routing for d in self.drifts):
            return "critical"
        return "drift" if self.drifts else "clean"

    def as_dict(self) -> dict[str, Any]:
        return {"stack": self.stack, "status": self.status, "source": self.source, "error": self.error,
                "resources": [asdict(d) | {"paths": list(d.paths)} for d in self.drifts]}


def property_path(parts: list[str | int]) -> str:
    """`spec.selector["kingtavo.com/color"]`, `tags.team`, `rules[0].port`: Pulumi's property path notation."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out or "(value)"


def from_preview(digest: Any, stack: str, exit_code: int = 0) -> DriftReport:
    """The drift a refreshed preview's JSON digest shows (`pulumi preview --refresh --json`)."""
    if not isinstance(digest, dict):
        raise DriftInputError("preview: expected the JSON object `pulumi preview --json` prints")
    steps = digest.get("steps") or []
    if not isinstance(steps, list):
        raise DriftInputError("preview: key 'steps': expected a list")
    by_urn: dict[str, Drift] = {}
    for index, step in enumerate(steps):
        if not isinstance(step, dict) or not isinstance(step.get("urn"), str) or not isinstance(step.get("op"), str):
            raise DriftInputError(f"preview: steps[{index}]: expected an object with string 'op' and 'urn'")
        op, urn = step["op"], step["urn"]
        if op in NO_CHANGE_OPS:
            continue
        type_token, name = urn_parts(urn)
        if type_token == "pulumi:pulumi:Stack":
            continue  # stack outputs, not a resource
        paths = set((step.get("detailedDiff") or {}).keys()) or set(step.get("diffReasons") or [])
        paths |= set(step.get("replaceReasons") or [])
        change = "replace" if op in REPLACE_OPS else op
        earlier = by_urn.get(urn)
        if earlier is not None:  # a replacement shows as several steps of one resource
            paths |= set(earlier.paths)
            change = "replace"
        by_urn[urn] = Drift(change, type_token, name, urn, tuple(sorted(paths)), is_routing(type_token, name))
    report = DriftReport(stack, sorted(by_urn.values(), key=lambda d: (not d.routing, d.type, d.name)))
    if exit_code != 0 and not report.drifts:
        report.error = (f"pulumi preview exited {exit_code} and showed no change: the check did not run "
                        f"(credentials, program or policy error; see the run log)")
    return report


def render_text(report: DriftReport) -> str:
    if report.status == "error":
        return f"drift check of {report.stack}: ERROR: {report.error}"
    if report.status == "clean":
        return f"drift check of {report.stack}: clean (the stack is what git says)"
    lines = [f"drift check of {report.stack}: {report.status.upper()}: {len(report.drifts)} resource(s) differ "
             f"from git ({report.source})"]
    if report.status == "critical":
        lines.append("  routing resources drifted: live traffic is not where git says")
    for d in report.drifts:
        flag = " [routing]" if d.routing else ""
        lines.append(f"  {d.change:<8} {d.type} {d.name}{flag}")
        lines.extend(f"      {path}" for path in d.paths)
    return "\n".join(lines)


def _escape(text: str) -> str:
    """Slack mrkdwn control characters; a tag key someone typed in a console cannot ping a channel."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(report: DriftReport, run_url: str = "", runbook_url: str = RUNBOOK) -> dict[str, Any]:
    """The incoming-webhook payload for a drift warning: resource names and property paths only."""
    stack = _escape(report.stack)
    if report.status == "error":
        title = f":warning: Drift check of {stack} could not run"
        body = [_escape(report.error or "")]
    else:
        headline = {"critical": ":rotating_light: CRITICAL drift in {s}: live traffic is not where git says",
                    "drift": ":warning: Drift in {s}: {n} resource(s) differ from git",
                    "clean": ":white_check_mark: No drift in {s}"}[report.status]
        title = headline.format(s=stack, n=len(report.drifts))
        body = []
        for d in report.drifts[:SLACK_MAX_LISTED]:
            paths = ", ".join(f"`{_escape(p)}`" for p in d.paths) or "(whole resource)"
            routing = " *routing*" if d.routing else ""
            body.append(f"• {d.change} `{_escape(d.name)}` ({_escape(d.type)}){routing}: {paths}")
        if len(report.drifts) > SLACK_MAX_LISTED:
            body.append(f"… and {len(report.drifts) - SLACK_MAX_LISTED} more (see the run)")
    links = [f"<{run_url}|the run>"] if run_url else []
    links.append(f"<{runbook_url}|drift and recovery runbook>" if "://" in runbook_url else f"runbook: {runbook_url}")
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*"}}]
    chunk = ""
    for line in body:
        if chunk and len(chunk) + len(line) + 1 > SLACK_SECTION_LIMIT:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": chunk}})
            chunk = ""
        chunk = f"{chunk}\n{line}" if chunk else line[:SLACK_SECTION_LIMIT]
    if chunk:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": chunk}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(links)}]})
    return {"text": title.replace("*", ""), "blocks": blocks}


def post(webhook_url: str, message: dict[str, Any], timeout: float = 10.0, retry_delay: float = 2.0) -> None:
    """POST the message to a Slack incoming webhook; raises RuntimeError (without the URL) when it fails."""
    if not webhook_url.startswith("https://") and not webhook_url.startswith("http://127.0.0.1"):
        raise RuntimeError("the Slack webhook URL must be an https:// URL")
    body = json.dumps(message).encode()
    last = ""
    for attempt in range(2):
        request = urllib.request.Request(webhook_url, data=body, method="POST",  # noqa: S310 (scheme checked)
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (scheme checked above)
                if 200 <= response.status < 300:
                    return
                last = f"HTTP {response.status}"
        except urllib.error.HTTPError as error:
            last = f"HTTP {error.code}"
            if error.code != 429 and error.code < 500:
                break
        except (urllib.error.URLError, TimeoutError) as error:
            last = type(error).__name__
        if attempt == 0:
            time.sleep(retry_delay)
    raise RuntimeError(f"Slack refused the drift message ({last})")


def _read_json(path: str, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except OSError as error:
        raise DriftInputError(f"{what} {path}: cannot read: {error.strerror}") from error
    except json.JSONDecodeError as error:
        raise DriftInputError(f"{what} {path}: not JSON ({error.msg} at line {error.lineno})") from error


def write_outputs(report: DriftReport, out: str | None, slack_out: str | None, run_url: str, runbook_url: str) -> None:
    if out:
        Path(out).write_text(json.dumps(report.as_dict(), indent=2) + "\n")
    if slack_out:
        Path(slack_out).write_text(json.dumps(slack_message(report, run_url, runbook_url), indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.drift", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    report_cmd = commands.add_parser("report", help="a drift report from a refreshed preview's JSON")
    report_cmd.add_argument("--stack", required=True)
    report_cmd.add_argument("--preview", required=True, help="the output of `pulumi preview --refresh --json`")
    report_cmd.add_argument("--preview-exit-code", type=int, default=0)
    report_cmd.add_argument("--out", help="write the report (names and paths) as JSON here")
    report_cmd.add_argument("--slack-out", help="write the Slack webhook payload here")
    report_cmd.add_argument("--run-url", default="")
    report_cmd.add_argument("--runbook-url", default=RUNBOOK)
    post_cmd = commands.add_parser("post", help="post a Slack payload to the webhook in $SLACK_WEBHOOK_URL")
    post_cmd.add_argument("--message", required=True)
    post_cmd.add_argument("--webhook-env", default="SLACK_WEBHOOK_URL")
    args = parser.parse_args(argv)

    return _post_command(args) if args.command == "post" else _report_command(args)


def _post_command(args: argparse.Namespace) -> int:
    url = os.environ.get(args.webhook_env, "")
    if not url:
        print(f"drift: ${args.webhook_env} is not set: cannot post to Slack", file=sys.stderr)
        return 2
    try:
        post(url, _read_json(args.message, "message"))
    except (DriftInputError, RuntimeError) as error:
        print(f"drift: {error}", file=sys.stderr)
        return 2
    print("drift: posted to Slack")
    return 0


def _report_command(args: argparse.Namespace) -> int:
    """Always writes a report (an `error` one when the preview output is missing or unreadable)."""
    preview = Path(args.preview)
    try:
        if not preview.is_file() or preview.stat().st_size == 0:
            report = DriftReport(args.stack, error=f"pulumi preview printed nothing (exit code "
                                                   f"{args.preview_exit_code}): the check did not run")
        else:
            report = from_preview(_read_json(args.preview, "preview"), args.stack, args.preview_exit_code)
    except ValueError as error:  # DriftInputError, a URN that is not one
        report = DriftReport(args.stack, error=f"unreadable preview output: {error}")
    write_outputs(report, args.out, args.slack_out, args.run_url, args.runbook_url)
    print(render_text(report))
    return {"clean": 0, "drift": 1, "critical": 1}.get(report.status, 2)


if __name__ == "__main__":
    sys.exit(main())
