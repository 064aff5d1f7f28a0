"""The restore drill on a real PostgreSQL: the real dump script, pg_restore, and the fingerprint comparison."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from tests.support.recorder import LOGIN, recorder_db  # noqa: F401 - the fixture
from tests.support.supabase_db import bootstrap_supabase_roles, supabase_database
from tools import restore_drill
from tools.restore_drill import fingerprint, run_drill

ROOT = Path(__file__).resolve().parent.parent
DUMP_SCRIPT = ROOT / "components" / "backups" / "backup_job" / "dump.sh"
SAMPLE_ROWS = """
INSERT INTO ops.deployments (environment, color, release, git_sha, actor, status, started_at, finished_at)
SELECT 'staging', CASE WHEN i % 2 = 0 THEN 'blue' ELSE 'green' END, 'v1.' || i || '.0', repeat('a', 40),
       'fake-actor-' || i, 'succeeded', now() - make_interval(hours => i + 1), now() - make_interval(hours => i)
FROM generate_series(1, 25) AS i;
INSERT INTO ops.restore_drills (environment, backup_reference, started_at, finished_at, result,
                                recovery_time_seconds, data_gap_seconds)
VALUES ('staging', 's3://fake-bucket/monthly/old.dump', now() - interval '30 days', now() - interval '30 days',
        'passed', 12.5, 3600);
"""

# user:password, assembled at run time so no committed line is a URL with a password in it.
FAKE_USERINFO = ":".join(("u", "fake-p"))
SCRATCH = f"postgresql://{FAKE_USERINFO}@scratch.example.invalid/db"


@pytest.fixture
def source(postgres, scratch_db):
    """A Supabase-shaped database with the ops schema migrated and fake rows in it."""
    supabase_database(postgres, scratch_db)
    postgres.psql(SAMPLE_ROWS, scratch_db)
    return scratch_db


@pytest.fixture
def target(postgres):
    """An empty scratch database with the Supabase roles and auth functions, as a scratch project has."""
    name = postgres.create_database("restore")
    bootstrap_supabase_roles(postgres, name)
    yield name
    postgres.drop_database(name)


def _dump_with_script(postgres, database: str, out: Path) -> tuple[Path, Path]:
    """Run the real dump script (as the CronJob does) and return (dump, manifest)."""
    env = {**os.environ, "PGHOST": "127.0.0.1", "PGPORT": str(postgres.port), "PGDATABASE": database,
           "PGUSER": postgres.superuser, "PGPASSWORD": postgres.superuser_password, "DUMP_DIR": str(out),
           "ENVIRONMENT": "staging"}
    done = subprocess.run(["sh", str(DUMP_SCRIPT)], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    key = (out / "key").read_text().strip()
    assert key.split("/")[0] in ("daily", "weekly", "monthly") and key.endswith(".dump")
    return out / "backup.dump", out / "manifest.json"


def _dump_after(postgres, database: str, out: Path, tamper_sql: str) -> tuple[Path, Path]:
    """A manifest of the source, then a change, then the dump: a backup that lost or changed something."""
    manifest = out / "manifest.json"
    manifest.write_text(json.dumps(fingerprint(postgres.dsn(database))))
    postgres.psql(tamper_sql, database)
    dump = out / "backup.dump"
    subprocess.run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--schema=supabase_migrations",
                    "--schema=public", "--schema=ops", "--schema=ops_private", f"--file={dump}",
                    postgres.dsn(database)], check=True, capture_output=True)
    return dump, manifest


def test_a_faithful_restore_passes_and_is_recorded(postgres, source, target, tmp_path, monkeypatch,
                                                  recorder_db):  # noqa: F811
    dump, manifest = _dump_with_script(postgres, source, tmp_path)
    expected = json.loads(manifest.read_text())
    tables = {f"{t['schema']}.{t['name']}": t for t in expected["tables"]}
    assert tables["ops.deployments"]["rows"] == 25 and tables["ops.deployments"]["rls"] is True
    assert len(expected["migrations"]) == len(list((ROOT / "supabase" / "migrations").glob("*.sql")))

    monkeypatch.setenv("SCRATCH_DATABASE_URL", postgres.dsn(target))
    monkeypatch.setenv("OPS_RECORDER_DATABASE_URL", recorder_db.url())  # the recorder login, verified TLS
    assert restore_drill.main(["--environment", "staging", "--dump", str(dump), "--manifest", str(manifest)]) == 0

    recorded = recorder_db.rows("SELECT environment, result, integrity_findings::text, recovery_time_seconds > 0, "
                                "recorded_by FROM ops.restore_drills WHERE backup_reference = :b", b=str(dump))
    assert recorded == [["staging", "passed", "[]", True, LOGIN]]


def test_the_data_gap_is_the_age_of_the_dump(postgres, source, target, tmp_path):
    dump, manifest = _dump_with_script(postgres, source, tmp_path)
    taken_at = datetime.fromisoformat(json.loads(manifest.read_text())["taken_at"].replace("Z", "+00:00"))
    result = run_drill("staging", dump, manifest, postgres.dsn(target), "local", now=taken_at + timedelta(hours=2))
    assert result.passed
    assert result.data_gap_seconds == pytest.approx(7200, abs=1)
    assert result.restore_seconds > 0


@pytest.mark.parametrize(("tamper", "finding"), [
    ("DELETE FROM ops.deployments WHERE id = (SELECT min(id) FROM ops.deployments)",
     "ops.deployments: 24 rows restored, 25 dumped"),
    ("UPDATE ops.deployments SET actor = 'someone-else' WHERE id = (SELECT max(id) FROM ops.deployments)",
     "ops.deployments: same row count (25) but the content differs (hash in primary-key order)"),
    ("ALTER TABLE ops.restore_drills DISABLE ROW LEVEL SECURITY",
     "ops.restore_drills: row level security is off in the restore (on in the source)"),
])
def test_a_restore_that_differs_fails_and_names_the_table(postgres, source, target, tmp_path, tamper, finding):
    dump, manifest = _dump_after(postgres, source, tmp_path, tamper)
    result = run_drill("staging", dump, manifest, postgres.dsn(target), "local")
    assert not result.passed
    assert result.findings == [finding]
    assert "FAIL" in result.report() and finding in result.report()


def test_a_failing_drill_exits_one_and_records_the_findings(postgres, source, target, tmp_path, monkeypatch,
                                                           recorder_db):  # noqa: F811
    dump, manifest = _dump_after(postgres, source, tmp_path, "DELETE FROM ops.deployments WHERE id % 5 = 0")
    monkeypatch.setenv("SCRATCH_DATABASE_URL", postgres.dsn(target))
    monkeypatch.setenv("SOURCE_DATABASE_URL", recorder_db.url())  # the old variable name still works
    assert restore_drill.main(["--environment", "staging", "--dump", str(dump), "--manifest", str(manifest)]) == 1
    recorded = recorder_db.rows("SELECT result, integrity_findings->>0 FROM ops.restore_drills "
                                "WHERE backup_reference = :b", b=str(dump))
    assert recorded == [["failed", "ops.deployments: 20 rows restored, 25 dumped"]]


def test_a_dump_older_than_the_limit_is_refused_before_restoring_and_recorded(postgres, source, target, tmp_path,
                                                                             monkeypatch, recorder_db):  # noqa: F811
    dump, manifest = _dump_with_script(postgres, source, tmp_path)
    document = json.loads(manifest.read_text())
    document["taken_at"] = (datetime.now(UTC) - timedelta(hours=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    manifest.write_text(json.dumps(document))
    monkeypatch.setenv("SCRATCH_DATABASE_URL", postgres.dsn(target))
    monkeypatch.setenv("OPS_RECORDER_DATABASE_URL", recorder_db.url())
    args = ["--environment", "staging", "--dump", str(dump), "--manifest", str(manifest)]
    assert restore_drill.main([*args, "--max-dump-age-hours", "26"]) == 1
    assert postgres.psql("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'ops'",
                         target).stdout.strip() == "0", "a refused dump must not be restored"
    recorded = recorder_db.rows("SELECT result, integrity_findings->>0, data_gap_seconds > 29 * 3600 "
                                "FROM ops.restore_drills WHERE backup_reference = :b", b=str(dump))
    assert len(recorded) == 1 and recorded[0][0] == "failed" and recorded[0][2] is True
    assert recorded[0][1].startswith("dump too old: taken 30.0 h ago, the limit is 26 h")
    assert restore_drill.main([*args, "--max-dump-age-hours", "48"]) == 0  # within a wider limit it restores


def test_the_drill_survives_a_recorder_that_is_down(postgres, source, target, tmp_path, monkeypatch, capsys,
                                                    recorder_db):  # noqa: F811
    dump, manifest = _dump_with_script(postgres, source, tmp_path)
    monkeypatch.setenv("SCRATCH_DATABASE_URL", postgres.dsn(target))
    monkeypatch.setenv("OPS_RECORDER_DATABASE_URL", recorder_db.url(password="fake-rotated-away"))
    assert restore_drill.main(["--environment", "staging", "--dump", str(dump), "--manifest", str(manifest)]) == 0
    assert '"OpsRecordWriteFailures": 1' in capsys.readouterr().out


@pytest.mark.parametrize(("url", "message"), [
    (SCRATCH, "sslmode=prefer does not verify scratch.example.invalid"),
    (f"{SCRATCH}?sslmode=require", "sslmode=require does not verify"),
    ("scratch.example.invalid:5432", "expected postgresql://"),
])
def test_a_scratch_url_that_would_not_verify_a_remote_server_is_refused(url, message, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("SCRATCH_DATABASE_URL", url)
    assert restore_drill.main(["--environment", "staging", "--dump", str(tmp_path / "x.dump")]) == 2
    err = capsys.readouterr().err
    assert message in err and FAKE_USERINFO not in err


def test_the_drill_cannot_run_without_a_scratch_database(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("SCRATCH_DATABASE_URL", raising=False)
    assert restore_drill.main(["--environment", "staging", "--dump", str(tmp_path / "x.dump")]) == 2
    assert "SCRATCH_DATABASE_URL is not set" in capsys.readouterr().err


def test_a_corrupt_dump_is_an_error_not_a_verdict(postgres, target, tmp_path, monkeypatch, capsys):
    (tmp_path / "bad.dump").write_bytes(b"not a dump")
    taken_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    (tmp_path / "bad.manifest.json").write_text(json.dumps({"taken_at": taken_at, "migrations": [], "tables": []}))
    monkeypatch.setenv("SCRATCH_DATABASE_URL", postgres.dsn(target))
    assert restore_drill.main(["--environment", "staging", "--dump", str(tmp_path / "bad.dump")]) == 2
    assert "pg_restore failed" in capsys.readouterr().err


def test_the_newest_dump_and_its_manifest_come_from_the_archive(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="fake-backups", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
        for key, body in (("weekly/staging-20261122T031700Z.dump", b"older"),
                          ("daily/staging-20261128T031700Z.dump", b"newest"),
                          ("monthly/staging-20261101T031700Z.dump", b"oldest")):
            s3.put_object(Bucket="fake-backups", Key=key, Body=body)
            s3.put_object(Bucket="fake-backups", Key=key.replace(".dump", ".manifest.json"), Body=b"{}")
        dump, manifest, label = restore_drill.newest_dump_from_s3("s3://fake-backups/", tmp_path, s3=s3)
        assert label == "s3://fake-backups/daily/staging-20261128T031700Z.dump"
        assert dump.read_bytes() == b"newest" and manifest.read_text() == "{}"
        with pytest.raises(restore_drill.DrillError, match="no dump found under s3://fake-backups/yearly/"):
            restore_drill.newest_dump_from_s3("s3://fake-backups/yearly/", tmp_path, s3=s3)
