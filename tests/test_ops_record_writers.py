"""The rotation function and the backup monitor as ops record writers: each run lands in ops.key_rotations /
ops.backup_checks, written as the recorder login over verified TLS into the real PostgreSQL with the migrations
(tests/support/recorder.py), the AWS side in moto; a write that cannot happen never fails the job it records."""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from tests import test_backup_monitor as monitor_tests
from tests import test_secret_rotation as rotation_tests
from tests.support.recorder import LOGIN, recorder_db  # noqa: F401 - the fixture

rotation_handler = rotation_tests.handler
monitor_handler = monitor_tests.handler
EMF_FAILURE = '"OpsRecordWriteFailures": 1'


def recorder_secret(client, recorder_db, password: str | None = None) -> str:  # noqa: F811
    return client.create_secret(Name="kingtavo/production/ops-recorder", SecretString=json.dumps({
        "engine": "postgres", "host": "127.0.0.1", "port": recorder_db.server.port, "username": LOGIN,
        "password": recorder_db.password if password is None else password,
        "dbname": recorder_db.database}))["ARN"]


# --- the rotation function: ops.key_rotations after finishSecret -------------------------------------------


@pytest.fixture
def rotation(recorder_db, monkeypatch):  # noqa: F811
    """A login role on the recorder's TLS server, its credential in moto, rotation set up as the stack does."""
    for key, value in {"AWS_DEFAULT_REGION": "eu-central-1", "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing", "ENVIRONMENT": "production",
                       "PGSSLROOTCERT": str(recorder_db.ca.ca_cert), "DATABASE_CA_FILE": str(recorder_db.ca.ca_cert),
                       "OPS_RECORDER_SECRET_ID": "kingtavo/production/ops-recorder",
                       "AWS_LAMBDA_FUNCTION_NAME": "kingtavo-production-secret-rotation"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("SECRETS_MANAGER_ENDPOINT", raising=False)
    with mock_aws(config={"lambda": {"use_docker": False}}):
        made = rotation_tests.new_rotation(recorder_db.server, recorder_db.database, sslmode="verify-full")
        yield made
        recorder_db.server.psql(f'DROP ROLE IF EXISTS "{made.role}"', database="postgres")


def rotation_rows(recorder_db, name: str) -> list[list]:  # noqa: F811
    return recorder_db.rows(
        "SELECT environment, store, rotated_by, recorded_by, next_due_at - rotated_at FROM ops.key_rotations "
        "WHERE secret_name = :name", name=name)


def test_a_finished_rotation_is_recorded_as_the_recorder_login(rotation, recorder_db):  # noqa: F811
    recorder_secret(rotation.client, recorder_db)
    name = rotation.client.describe_secret(SecretId=rotation.arn)["Name"]

    token = rotation.rotate()

    assert rotation.stages()[token] == ["AWSCURRENT"]
    rows = rotation_rows(recorder_db, name)
    assert len(rows) == 1
    environment, store, rotated_by, recorded_by, interval = rows[0]
    assert (environment, store, rotated_by, recorded_by) == (
        "production", "aws_secrets_manager", "kingtavo-production-secret-rotation", LOGIN)
    assert timedelta(days=29, hours=23) < interval <= timedelta(days=30, minutes=1)  # the secret's 30-day rule


def test_steps_before_finish_and_a_repeated_finish_record_nothing_more(rotation, recorder_db):  # noqa: F811
    recorder_secret(rotation.client, recorder_db)
    name = rotation.client.describe_secret(SecretId=rotation.arn)["Name"]
    token = rotation.start()
    for step in rotation_tests.STEPS[:3]:
        rotation.step(step, token)
    assert rotation_rows(recorder_db, name) == []
    rotation.step("finishSecret", token)
    rotation.step("finishSecret", token)  # already AWSCURRENT: a no-op, not a second rotation
    assert len(rotation_rows(recorder_db, name)) == 1


@pytest.mark.parametrize("broken", ["wrong password", "no recorder secret"])
def test_a_rotation_whose_record_fails_still_completes_and_says_so(rotation, recorder_db, broken, capsys,  # noqa: F811
                                                                   caplog):
    if broken == "wrong password":
        recorder_secret(rotation.client, recorder_db, password="fake-wrong-" + secrets.token_hex(8))
    name = rotation.client.describe_secret(SecretId=rotation.arn)["Name"]

    token = rotation.rotate()

    assert rotation.stages()[token] == ["AWSCURRENT"]
    assert rotation.login_error(rotation.value("AWSCURRENT")["password"]) is None  # the rotation itself worked
    assert rotation_rows(recorder_db, name) == []
    assert EMF_FAILURE in capsys.readouterr().out
    assert "ops record" in caplog.text
    assert recorder_db.password not in caplog.text


# --- the backup monitor: ops.backup_checks each run ------------------------------------------------------------


@pytest.fixture
def monitor(recorder_db, monkeypatch):  # noqa: F811
    api = monitor_tests.ManagementApi()
    environment = {"AWS_DEFAULT_REGION": "eu-central-1", "AWS_ACCESS_KEY_ID": "testing",
                   "AWS_SECRET_ACCESS_KEY": "testing", "ENVIRONMENT": "production",
                   "SUPABASE_PROJECT_REF": monitor_tests.REF, "SUPABASE_API_URL": api.url,
                   "METRIC_NAMESPACE": "Kingtavo/Backups", "PGSSLROOTCERT": str(recorder_db.ca.ca_cert),
                   "MAX_BACKUP_AGE_HOURS": "26", "REQUIRE_PITR": "true"}
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        client = boto3.client("secretsmanager")
        token = client.create_secret(Name="kingtavo/production/supabase-management-token",
                                     SecretString="fake-supabase-token-" + secrets.token_hex(8))["ARN"]
        monkeypatch.setenv("ACCESS_TOKEN_SECRET_ARN", token)
        monkeypatch.setenv("OPS_RECORDER_SECRET_ARN", recorder_secret(client, recorder_db))
        # the archive the monitor also reads (dump_age.py): empty is fine, its age is then "no dump"
        boto3.client("s3").create_bucket(Bucket="kingtavo-production-db-backups",
                                         CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
        monkeypatch.setenv("BACKUP_BUCKET", "kingtavo-production-db-backups")
        yield api, client
    api.close()


def check_rows(recorder_db, now: datetime) -> list[list]:  # noqa: F811
    return recorder_db.rows(
        "SELECT result, backup_reference, backup_taken_at, findings, recorded_by FROM ops.backup_checks "
        "WHERE environment = 'production' AND checked_at = :now ORDER BY id", now=now)


def unique_now() -> datetime:
    """A check time no other test uses (rows stay in the session's database)."""
    return datetime(2026, 11, 28, 12, 0, tzinfo=UTC) + timedelta(seconds=uuid.uuid4().int % 10**6)


def backup(backup_id: int, status: str, now: datetime, hours_ago: float) -> dict:
    inserted = (now - timedelta(hours=hours_ago)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return {"id": backup_id, "is_physical_backup": True, "status": status, "inserted_at": inserted}


def test_a_healthy_run_records_a_passed_check_naming_the_newest_backup(monitor, recorder_db):  # noqa: F811
    api, _ = monitor
    now = unique_now()
    api.body = {"pitr_enabled": True, "backups": [backup(7, "COMPLETED", now, 30), backup(8, "COMPLETED", now, 5)]}

    monitor_handler.lambda_handler({}, None, now=now)

    [[result, reference, taken_at, findings, recorded_by]] = check_rows(recorder_db, now)
    assert (result, reference, findings, recorded_by) == ("passed", "backup:8", [], LOGIN)
    assert taken_at == now - timedelta(hours=5)


def test_a_stale_failed_run_without_pitr_records_each_finding(monitor, recorder_db):  # noqa: F811
    api, _ = monitor
    now = unique_now()
    api.body = {"pitr_enabled": False, "backups": [backup(1, "COMPLETED", now, 27.5), backup(2, "FAILED", now, 3)]}

    monitor_handler.lambda_handler({}, None, now=now)

    [[result, reference, _, findings, _]] = check_rows(recorder_db, now)
    assert result == "failed" and reference == "backup:1"
    assert findings == ["the newest completed backup is 27.5 hours old (more than 26)",
                        "1 backup(s) failed in the last 24 hours", "point-in-time recovery is off"]


def test_an_unreadable_backup_list_is_a_failed_check_and_the_run_still_fails(monitor, recorder_db):  # noqa: F811
    api, _ = monitor
    now = unique_now()
    api.status, api.body = 500, {"message": "upstream down"}

    with pytest.raises(monitor_handler.BackupApiError):
        monitor_handler.lambda_handler({}, None, now=now)

    [[result, reference, _, findings, _]] = check_rows(recorder_db, now)
    assert result == "failed" and reference is None
    assert findings[0].startswith("backup list unreadable: ") and "HTTP 500" in findings[0]


def test_a_run_whose_record_fails_still_publishes_its_metrics(monitor, recorder_db, capsys):  # noqa: F811
    api, client = monitor
    client.put_secret_value(SecretId="kingtavo/production/ops-recorder", SecretString=json.dumps({
        "engine": "postgres", "host": "127.0.0.1", "port": recorder_db.server.port, "username": LOGIN,
        "password": "fake-wrong-" + secrets.token_hex(8), "dbname": recorder_db.database}))
    now = unique_now()
    api.body = {"pitr_enabled": True, "backups": [backup(9, "COMPLETED", now, 2)]}

    metrics = monitor_handler.lambda_handler({}, None, now=now)

    assert metrics["HoursSinceLastCompletedBackup"] == 2.0
    stats = boto3.client("cloudwatch").get_metric_statistics(
        Namespace="Kingtavo/Backups", MetricName="HoursSinceLastCompletedBackup",
        Dimensions=[{"Name": "Environment", "Value": "production"}], StartTime=now - timedelta(hours=1),
        EndTime=now + timedelta(hours=1), Period=3600, Statistics=["Maximum"])
    assert [point["Maximum"] for point in stats["Datapoints"]] == [2.0]
    assert check_rows(recorder_db, now) == []
    assert EMF_FAILURE in capsys.readouterr().out
