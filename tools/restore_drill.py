"""The restore drill: restore the newest dump into a scratch database and prove it holds what was dumped.

    SCRATCH_DATABASE_URL=... OPS_RECORDER_DATABASE_URL=... \\
        python -m tools.restore_drill --environment staging --backup-uri s3://<bucket>/ [--max-dump-age-hours 30]
    python -m tools.restore_drill --environment staging --dump backup.dump --manifest backup.manifest.json

Every dump the nightly job takes comes with a manifest written in the dump's own snapshot
(components/backups/backup_job/dump.sh and fingerprint.sql): per table its row count, an md5 of its
rows in primary-key order and whether row level security is on, and the applied migration
versions. The drill restores the dump with `pg_restore`, fingerprints the restored copy with
the same SQL, and compares table by table. It measures the restore time and the data gap
(how old the dump is, i.e. how much data a restore would lose), records the result in
`ops.restore_drills` through the recorder login when OPS_RECORDER_DATABASE_URL is set (SOURCE_DATABASE_URL
is read as the old name of the same thing; tools/ops_record_core.py: TLS verified, password percent-decoded,
a failed write logged and counted but never failing the drill), prints a report, and exits 1 on any
mismatch (2 when it could not run).

A dump older than --max-dump-age-hours (default 30: backups.maxDumpAgeHours, the dump-stale alarm's threshold)
is refused before any restore: the drill fails (exit 1) and records why, since restoring it would prove an
archive that has stopped receiving dumps. The scratch database is reached with libpq (pg_restore, psql), which
decodes the URL itself; for any host but this machine the URL must ask for `sslmode=verify-full` or
`verify-ca`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from components.core.environments import STACKS
from tools import ops_record_core

ROOT = Path(__file__).resolve().parent.parent
FINGERPRINT_SQL = ROOT / "components" / "backups" / "backup_job" / "fingerprint.sql"
DEFAULT_SCHEMAS = "public,ops,ops_private"
DEFAULT_MAX_DUMP_AGE_HOURS = 30.0  # backups.maxDumpAgeHours: the dump-stale alarm's threshold
RECORDER_URL_ENVS = ("OPS_RECORDER_DATABASE_URL", "SOURCE_DATABASE_URL")


class DrillError(RuntimeError):
    """The drill could not run (no dump, restore failed): not a verdict on the data."""


@dataclass
class DrillResult:
    environment: str
    backup: str
    started_at: datetime
    finished_at: datetime
    restore_seconds: float
    data_gap_seconds: float
    findings: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.findings

    def report(self) -> str:
        lines = [f"restore drill ({self.environment}) of {self.backup}: {'PASS' if self.passed else 'FAIL'}",
                 f"  restore time: {self.restore_seconds:.1f} s",
                 f"  data gap: {self.data_gap_seconds / 3600:.1f} h (age of the dump at the drill)"]
        lines.extend(f"  - {finding}" for finding in self.findings)
        return "\n".join(lines)


def fingerprint(database_url: str, schemas: str = DEFAULT_SCHEMAS) -> dict:
    """Run fingerprint.sql against a database (psql, so the SQL is exactly what the dump job runs)."""
    done = subprocess.run(
        ["psql", "--no-psqlrc", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-v", f"schemas={schemas}",
         "-f", str(FINGERPRINT_SQL), database_url],
        capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise DrillError(f"fingerprint failed: {done.stderr.strip()}")
    return json.loads(done.stdout)


def compare(expected: dict, actual: dict) -> list[str]:
    """Every difference between the dump's manifest and the restored copy, naming the table and why."""
    findings = []
    if expected["migrations"] != actual["migrations"]:
        missing = sorted(set(expected["migrations"]) - set(actual["migrations"]))
        extra = sorted(set(actual["migrations"]) - set(expected["migrations"]))
        findings.append(f"migrations: restored history differs (missing {missing or 'none'}, extra {extra or 'none'})")
    want = {(t["schema"], t["name"]): t for t in expected["tables"]}
    have = {(t["schema"], t["name"]): t for t in actual["tables"]}
    for key in sorted(set(want) - set(have)):
        findings.append(f"{key[0]}.{key[1]}: missing from the restore")
    for key in sorted(set(have) - set(want)):
        findings.append(f"{key[0]}.{key[1]}: in the restore but not in the dump's manifest")
    for key in sorted(set(want) & set(have)):
        name, w, h = f"{key[0]}.{key[1]}", want[key], have[key]
        if w["rows"] != h["rows"]:
            findings.append(f"{name}: {h['rows']} rows restored, {w['rows']} dumped")
        elif w["hash"] != h["hash"]:
            findings.append(f"{name}: same row count ({w['rows']}) but the content differs (hash in primary-key order)")
        if w["rls"] and not h["rls"]:
            findings.append(f"{name}: row level security is off in the restore (on in the source)")
        elif h["rls"] != w["rls"]:
            findings.append(f"{name}: row level security is on in the restore but was off in the source")
    return findings


def restore(dump: Path, target_url: str) -> float:
    """pg_restore into the scratch database, replacing what the dump holds; returns the seconds it took."""
    start = time.perf_counter()
    done = subprocess.run(
        ["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges", "--exit-on-error",
         "--single-transaction", f"--dbname={target_url}", str(dump)],
        capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise DrillError(f"pg_restore failed: {done.stderr.strip()[-2000:]}")
    return time.perf_counter() - start


def newest_dump_from_s3(backup_uri: str, workdir: Path, s3=None) -> tuple[Path, Path, str]:
    """Download the newest `*.dump` under the archive (any tier) and its manifest."""
    parsed = urlparse(backup_uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise DrillError(f"--backup-uri: expected s3://<bucket>/[prefix], got {backup_uri!r}")
    if s3 is None:
        import boto3

        s3 = boto3.client("s3")
    bucket, prefix = parsed.netloc, parsed.path.lstrip("/")
    dumps = [item for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
             for item in page.get("Contents", []) if item["Key"].endswith(".dump")]
    if not dumps:
        raise DrillError(f"no dump found under {backup_uri}")
    # Keys end in the dump's UTC time (<tier>/<env>-<YYYYMMDDTHHMMSSZ>.dump): order by it, then by upload time.
    key = max(dumps, key=lambda item: (item["Key"].rsplit("-", 1)[-1], item["LastModified"]))["Key"]
    dump, manifest = workdir / "backup.dump", workdir / "backup.manifest.json"
    s3.download_file(bucket, key, str(dump))
    s3.download_file(bucket, key.removesuffix(".dump") + ".manifest.json", str(manifest))
    return dump, manifest, f"s3://{bucket}/{key}"


def run_drill(environment: str, dump: Path, manifest: Path, scratch_url: str, backup_label: str,
              now: datetime | None = None) -> DrillResult:
    started = datetime.now(UTC)
    expected = json.loads(manifest.read_text())
    schemas = ",".join(sorted({t["schema"] for t in expected["tables"]})) or DEFAULT_SCHEMAS
    seconds = restore(dump, scratch_url)
    actual = fingerprint(scratch_url, schemas)
    finished = datetime.now(UTC)
    taken_at = datetime.fromisoformat(expected["taken_at"].replace("Z", "+00:00"))
    return DrillResult(environment=environment, backup=backup_label, started_at=started, finished_at=finished,
                       restore_seconds=seconds, data_gap_seconds=((now or finished) - taken_at).total_seconds(),
                       findings=compare(expected, actual))


def check_scratch_url(url: str) -> None:
    """libpq reads the URL itself; refuse one that would not verify a remote server's certificate."""
    parsed = urlparse(url)
    if parsed.scheme not in ("postgres", "postgresql") or not parsed.hostname:
        raise DrillError("SCRATCH_DATABASE_URL: expected postgresql://user:password@host:port/database")
    sslmode = parse_qs(parsed.query).get("sslmode", ["prefer"])[-1]
    if not ops_record_core.is_loopback(parsed.hostname) and sslmode not in ("verify-full", "verify-ca"):
        raise DrillError(f"SCRATCH_DATABASE_URL: sslmode={sslmode} does not verify {parsed.hostname}; "
                         "add sslmode=verify-full (and sslrootcert=<CA file>)")


def too_old(manifest: Path, max_age_hours: float, now: datetime | None = None) -> str | None:
    """Why the dump is refused (older than the limit, or dated in the future), or None when it is fresh."""
    taken_at = datetime.fromisoformat(json.loads(manifest.read_text())["taken_at"].replace("Z", "+00:00"))
    age_hours = ((now or datetime.now(UTC)) - taken_at).total_seconds() / 3600
    if age_hours > max_age_hours:
        return f"dump too old: taken {age_hours:.1f} h ago, the limit is {max_age_hours:g} h (--max-dump-age-hours)"
    if age_hours < -0.1:
        return f"dump dated {-age_hours:.1f} h in the future: the dump job's clock or manifest is wrong"
    return None


def refused(environment: str, manifest: Path, label: str, reason: str) -> DrillResult:
    now = datetime.now(UTC)
    taken_at = datetime.fromisoformat(json.loads(manifest.read_text())["taken_at"].replace("Z", "+00:00"))
    return DrillResult(environment=environment, backup=label, started_at=now, finished_at=now, restore_seconds=0.0,
                       data_gap_seconds=max(0.0, (now - taken_at).total_seconds()), findings=[reason])


def record(result: DrillResult, recorder_url: str) -> bool:
    """One row in ops.restore_drills through the recorder login; False (logged, counted) when not written."""
    return ops_record_core.record(recorder_url, "restore_drills", {
        "environment": result.environment, "backup_reference": result.backup, "started_at": result.started_at,
        "finished_at": result.finished_at, "result": "passed" if result.passed else "failed",
        "recovery_time_seconds": round(result.restore_seconds, 3),
        "data_gap_seconds": round(result.data_gap_seconds, 3), "integrity_findings": result.findings,
    })


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.restore_drill", description=__doc__.splitlines()[0])
    parser.add_argument("--environment", required=True, choices=STACKS)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--backup-uri", help="s3://<bucket>/[prefix]: restore the newest dump found there")
    source.add_argument("--dump", type=Path, help="a local dump file (its manifest next to it or --manifest)")
    parser.add_argument("--manifest", type=Path)
    parser.add_argument("--max-dump-age-hours", type=float, default=DEFAULT_MAX_DUMP_AGE_HOURS,
                        help="refuse a dump older than this (default %(default)s)")
    args = parser.parse_args(argv)
    if args.max_dump_age_hours <= 0:
        parser.error("--max-dump-age-hours: expected a number of hours above 0")

    scratch_url = os.environ.get("SCRATCH_DATABASE_URL")
    if not scratch_url:
        print("SCRATCH_DATABASE_URL is not set: the drill needs an empty scratch database to restore into",
              file=sys.stderr)
        return 2
    try:
        check_scratch_url(scratch_url)
        with tempfile.TemporaryDirectory(prefix="restore-drill-") as workdir:
            if args.backup_uri:
                dump, manifest, label = newest_dump_from_s3(args.backup_uri, Path(workdir))
            else:
                dump, label = args.dump, str(args.dump)
                manifest = args.manifest or args.dump.with_suffix(".manifest.json")
            reason = too_old(manifest, args.max_dump_age_hours)
            if reason:
                result = refused(args.environment, manifest, label, reason)
            else:
                result = run_drill(args.environment, dump, manifest, scratch_url, label)
    except (DrillError, OSError, KeyError, ValueError) as error:
        print(f"restore drill could not run: {error}", file=sys.stderr)
        return 2
    print(result.report())
    recorder_url = next((os.environ[name] for name in RECORDER_URL_ENVS if os.environ.get(name)), None)
    if recorder_url:
        record(result, recorder_url)
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
