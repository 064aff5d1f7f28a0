"""The restore drill: restore the newest dump into a scratch database and prove it holds what was dumped.

    SCRATCH_DATABASE_URL=... SOURCE_DATABASE_URL=... \\
        python -m tools.restore_drill --environment staging --backup-uri s3://<bucket>/
    python -m tools.restore_drill --environment staging --dump backup.dump --manifest backup.manifest.json

Every dump the nightly job takes comes with a manifest written in the dump's own snapshot
(components/backups/backup_job/dump.sh and fingerprint.sql): per table its row count, an md5 of its
rows in primary-key order and whether row level security is on, and the applied migration
versions. The drill restores the dump with `pg_restore`, fingerprints the restored copy with
the same SQL, and compares table by table. It measures the restore time and the data gap
(how old the dump is, i.e. how much data a restore would lose), records the result in
`ops.restore_drills` of the source database when SOURCE_DATABASE_URL is set, prints a
report, and exits 1 on any mismatch (2 when it could not run).
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
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
FINGERPRINT_SQL = ROOT / "components" / "backups" / "backup_job" / "fingerprint.sql"
DEFAULT_SCHEMAS = "public,ops,ops_private"


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


RECORD_SQL = """
INSERT INTO ops.restore_drills
  (environment, started_at, finished_at, result, recovery_time_seconds, data_gap_seconds, integrity_findings,
   backup_reference)
VALUES (:environment, :started_at, :finished_at, :result, :recovery, :gap, CAST(:findings AS jsonb), :backup)
"""


def record(result: DrillResult, database_url: str) -> None:
    """One row in ops.restore_drills (the admin dashboard's restore-drill history)."""
    import pg8000.native

    url = urlparse(database_url)
    connection = pg8000.native.Connection(user=url.username, password=url.password, host=url.hostname,
                                          port=url.port or 5432, database=url.path.lstrip("/") or "postgres")
    try:
        connection.run(RECORD_SQL, environment=result.environment, started_at=result.started_at,
                       finished_at=result.finished_at, result="passed" if result.passed else "failed",
                       recovery=round(result.restore_seconds, 3), gap=round(result.data_gap_seconds, 3),
                       findings=json.dumps(result.findings), backup=result.backup)
    finally:
        connection.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.restore_drill", description=__doc__.splitlines()[0])
    parser.add_argument("--environment", required=True, choices=["staging", "production"])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--backup-uri", help="s3://<bucket>/[prefix]: restore the newest dump found there")
    source.add_argument("--dump", type=Path, help="a local dump file (its manifest next to it or --manifest)")
    parser.add_argument("--manifest", type=Path)
    args = parser.parse_args(argv)

    scratch_url = os.environ.get("SCRATCH_DATABASE_URL")
    if not scratch_url:
        print("SCRATCH_DATABASE_URL is not set: the drill needs an empty scratch database to restore into",
              file=sys.stderr)
        return 2
    try:
        with tempfile.TemporaryDirectory(prefix="restore-drill-") as workdir:
            if args.backup_uri:
                dump, manifest, label = newest_dump_from_s3(args.backup_uri, Path(workdir))
            else:
                dump, label = args.dump, str(args.dump)
                manifest = args.manifest or args.dump.with_suffix(".manifest.json")
            result = run_drill(args.environment, dump, manifest, scratch_url, label)
    except DrillError as error:
        print(f"restore drill could not run: {error}", file=sys.stderr)
        return 2
    print(result.report())
    if os.environ.get("SOURCE_DATABASE_URL"):
        record(result, os.environ["SOURCE_DATABASE_URL"])
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
