"""Record what a job did in the ops schema, as the recorder login (`ops_recorder_login`, see
supabase/migrations/20261201000100_ops_recorder.sql). The URL comes from OPS_RECORDER_DATABASE_URL, never
from the command line (it holds the password); TLS is verified by default (tools/ops_record_core.py).

    python -m tools.ops_record deployment --environment staging --color green --release v1.2.3 \\
        --git-sha <40 hex> --actor deploy-staging --status succeeded --started-at 2026-12-01T10:00:00Z \\
        [--web-sha <40 hex>] [--etl-digest sha256:<64 hex>] [--smoke passed|failed] [--e2e passed|failed] \\
        [--run-url https://...] [--finished-at ISO]
    python -m tools.ops_record drift --environment production --result clean|drifted|error \\
        [--change 'etl-live: spec.selector.color']... [--changes-file changes.json] [--routing-drifted] [--run-url]
    python -m tools.ops_record alert --environment production --source prometheus --name X --severity critical \\
        --summary '...' [--fingerprint F] [--fired-at ISO]
    python -m tools.ops_record backup-check --environment production --result passed|failed \\
        [--backup-reference R --backup-taken-at ISO] [--finding '...']...
    python -m tools.ops_record key-rotation --environment production --store aws_secrets_manager \\
        --secret-name kingtavo/production/etl/database --rotated-by NAME --next-due-at ISO [--note '...']

A failed write never fails the job: it prints a GitHub `::warning::`, writes `recorded=false` to
$GITHUB_OUTPUT (the metric flag a workflow step can act on) and exits 0; `--strict` makes it exit 3.
Arguments that are malformed exit 2 naming the option and what was expected, before anything connects.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

from components.core.environments import STACKS
from tools import ops_record_core

URL_ENV = "OPS_RECORDER_DATABASE_URL"
ENVIRONMENTS = STACKS  # the environment is the stack name
SHA = re.compile(r"^[0-9a-f]{40}$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
ALERT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.:-]{0,99}$")
SECRET_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_./-]{0,199}$")
STORES = ("aws_secrets_manager", "vercel", "supabase_vault", "supabase_edge_functions", "github_actions")


def pattern(regex: re.Pattern, expected: str):
    def check(value: str) -> str:
        if not regex.match(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {value[:80]!r}")
        return value
    return check


def timestamp(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an ISO 8601 time (2026-12-01T10:00:00Z), got {value!r}") from None
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(f"expected a time with its UTC offset (Z or +00:00), got {value!r}")
    return parsed


def https_url(value: str) -> str:
    if not re.match(r"^https://\S{1,500}$", value):
        raise argparse.ArgumentTypeError(f"expected an https:// URL, got {value[:80]!r}")
    return value


def passed_flag(value: str) -> bool:
    if value not in ("passed", "failed"):
        raise argparse.ArgumentTypeError(f"expected passed or failed, got {value!r}")
    return value == "passed"


def text(limit: int):
    def check(value: str) -> str:
        if not 1 <= len(value) <= limit:
            raise argparse.ArgumentTypeError(f"expected 1 to {limit} characters, got {len(value)}")
        return value
    return check


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.ops_record", description=__doc__.splitlines()[0])
    parser.add_argument("--strict", action="store_true", help="exit 3 when the row could not be written")
    sub = parser.add_subparsers(dest="kind", required=True)

    dep = sub.add_parser("deployment", help="a rollout to one color (ops.deployments)")
    dep.add_argument("--environment", required=True, choices=ENVIRONMENTS)
    dep.add_argument("--color", required=True, choices=("blue", "green"))
    dep.add_argument("--release", required=True, type=pattern(re.compile(r"^\S{1,100}$"), "a name without spaces"))
    dep.add_argument("--git-sha", required=True, type=pattern(SHA, "a 40-character lowercase commit SHA"))
    dep.add_argument("--actor", required=True, type=text(100))
    dep.add_argument("--status", required=True, choices=("succeeded", "failed", "rolled_back"))
    dep.add_argument("--started-at", required=True, type=timestamp)
    dep.add_argument("--finished-at", type=timestamp, help="default: now")
    dep.add_argument("--web-sha", type=pattern(SHA, "a 40-character lowercase commit SHA"))
    dep.add_argument("--etl-digest", type=pattern(DIGEST, "an image digest sha256:<64 hex>"))
    dep.add_argument("--smoke", type=passed_flag, help="passed or failed")
    dep.add_argument("--e2e", type=passed_flag, help="passed or failed")
    dep.add_argument("--run-url", type=https_url)

    drift = sub.add_parser("drift", help="a drift check of a stack (ops.drift_checks)")
    drift.add_argument("--environment", required=True, choices=ENVIRONMENTS)
    drift.add_argument("--result", required=True, choices=("clean", "drifted", "error"))
    drift.add_argument("--change", action="append", default=[], type=text(500),
                       help="a resource name and property path that drifted (repeatable; never a value)")
    drift.add_argument("--changes-file", type=Path, help="a JSON array of such strings")
    drift.add_argument("--routing-drifted", action="store_true")
    drift.add_argument("--run-url", type=https_url)

    alert = sub.add_parser("alert", help="an alert that fired (ops.alerts)")
    alert.add_argument("--environment", required=True, choices=ENVIRONMENTS)
    alert.add_argument("--source", required=True, choices=("prometheus", "cloudwatch", "sentry", "supabase", "vercel"))
    alert.add_argument("--name", required=True, type=pattern(ALERT_NAME, "a rule name like FrontendHttp5xxRateHigh"))
    alert.add_argument("--severity", required=True, choices=("critical", "warning", "info"))
    alert.add_argument("--summary", required=True, type=text(500))
    alert.add_argument("--fingerprint", type=text(300))
    alert.add_argument("--fired-at", type=timestamp)

    backup = sub.add_parser("backup-check", help="a check of the newest backup (ops.backup_checks)")
    backup.add_argument("--environment", required=True, choices=ENVIRONMENTS)
    backup.add_argument("--result", required=True, choices=("passed", "failed"))
    backup.add_argument("--backup-reference", type=text(500))
    backup.add_argument("--backup-taken-at", type=timestamp)
    backup.add_argument("--finding", action="append", default=[], type=text(500))

    rotation = sub.add_parser("key-rotation", help="a rotated secret, by name (ops.key_rotations)")
    rotation.add_argument("--environment", required=True, choices=ENVIRONMENTS)
    rotation.add_argument("--store", required=True, choices=STORES)
    rotation.add_argument("--secret-name", required=True, type=pattern(SECRET_NAME, "a secret name, never a value"))
    rotation.add_argument("--rotated-by", required=True, type=text(100))
    rotation.add_argument("--next-due-at", required=True, type=timestamp)
    rotation.add_argument("--note", type=text(2000))
    return parser


def _drop_none(row: dict) -> dict:
    return {key: value for key, value in row.items() if value is not None}


def row_for(args: argparse.Namespace) -> tuple[str, dict]:
    """(table, row) for the parsed command; raises ValueError naming the option on a combination that cannot be."""
    now = datetime.now(UTC)
    if args.kind == "deployment":
        if args.web_sha is None and args.etl_digest is None:
            raise ValueError("deployment: give --web-sha or --etl-digest (what the color runs)")
        return "deployments", _drop_none({
            "environment": args.environment, "color": args.color, "release": args.release, "git_sha": args.git_sha,
            "actor": args.actor, "status": args.status, "started_at": args.started_at,
            "finished_at": args.finished_at or now, "web_sha": args.web_sha, "etl_digest": args.etl_digest,
            "smoke_passed": args.smoke, "e2e_passed": args.e2e, "run_url": args.run_url})
    if args.kind == "drift":
        changes = list(args.change)
        if args.changes_file:
            loaded = json.loads(args.changes_file.read_text())
            if not isinstance(loaded, list) or not all(isinstance(item, str) for item in loaded):
                raise ValueError(f"--changes-file {args.changes_file}: expected a JSON array of strings")
            changes.extend(loaded)
        if args.result == "clean" and changes:
            raise ValueError("drift: --result clean with changes listed; a clean check has none")
        if args.result == "drifted" and not changes:
            raise ValueError("drift: --result drifted needs at least one --change or --changes-file entry")
        if args.routing_drifted and args.result != "drifted":
            raise ValueError("drift: --routing-drifted needs --result drifted")
        return "drift_checks", _drop_none({"environment": args.environment, "result": args.result,
                                           "routing_drifted": args.routing_drifted, "changes": changes,
                                           "run_url": args.run_url, "checked_at": now})
    if args.kind == "alert":
        return "alerts", _drop_none({"environment": args.environment, "source": args.source, "name": args.name,
                                     "severity": args.severity, "summary": args.summary,
                                     "fingerprint": args.fingerprint, "fired_at": args.fired_at or now})
    if args.kind == "backup-check":
        if args.result == "passed" and (args.backup_reference is None or args.backup_taken_at is None):
            raise ValueError("backup-check: --result passed needs --backup-reference and --backup-taken-at")
        if args.result == "failed" and not args.finding:
            raise ValueError("backup-check: --result failed needs at least one --finding saying why")
        return "backup_checks", _drop_none({
            "environment": args.environment, "result": args.result, "backup_reference": args.backup_reference,
            "backup_taken_at": args.backup_taken_at, "findings": args.finding, "checked_at": now})
    return "key_rotations", _drop_none({
        "environment": args.environment, "store": args.store, "secret_name": args.secret_name,
        "rotated_by": args.rotated_by, "next_due_at": args.next_due_at, "note": args.note, "rotated_at": now})


def flag_outcome(recorded: bool) -> None:
    """The metric flag for a workflow: `recorded=true|false` in $GITHUB_OUTPUT when running in Actions."""
    output = os.environ.get("GITHUB_OUTPUT")
    if output:
        with open(output, "a", encoding="utf-8") as handle:
            handle.write(f"recorded={'true' if recorded else 'false'}\n")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        table, row = row_for(args)
    except (ValueError, OSError) as error:
        parser.error(str(error))
    recorded = ops_record_core.record(os.environ.get(URL_ENV), table, row, stream=sys.stderr)
    flag_outcome(recorded)
    if recorded:
        print(f"ops record: wrote one row to ops.{table}")
        return 0
    print(f"::warning::ops record: ops.{table} not written (see the log above); the job itself is unaffected")
    return 3 if args.strict else 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    sys.exit(main())
