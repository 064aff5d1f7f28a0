"""The backup monitor Lambda against moto's Secrets Manager and CloudWatch and a local Management API."""

from __future__ import annotations

import importlib.util
import json
import secrets
import sys
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

ROOT = Path(__file__).resolve().parent.parent
REF = "stagingrefplaceholdr"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _load_handler():
    spec = importlib.util.spec_from_file_location("backup_monitor_handler", ROOT / "lambdas/backup_monitor/handler.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


handler = _load_handler()


class ManagementApi:
    """A local stand-in for GET /v1/projects/{ref}/database/backups that records what it was sent."""

    def __init__(self):
        self.status = 200
        self.body: object = {}
        self.requests: list[dict] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                api.requests.append({"path": self.path, "authorization": self.headers.get("Authorization")})
                payload = json.dumps(api.body).encode() if not isinstance(api.body, bytes) else api.body
                self.send_response(api.status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def api():
    server = ManagementApi()
    yield server
    server.close()


@pytest.fixture
def aws_env(monkeypatch, api):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        token = "fake-supabase-token-" + secrets.token_hex(8)
        arn = boto3.client("secretsmanager").create_secret(Name="kingtavo/staging/supabase-management-token",
                                                           SecretString=token)["ARN"]
        monkeypatch.setenv("ENVIRONMENT", "staging")
        monkeypatch.setenv("SUPABASE_PROJECT_REF", REF)
        monkeypatch.setenv("SUPABASE_API_URL", api.url)
        monkeypatch.setenv("ACCESS_TOKEN_SECRET_ARN", arn)
        monkeypatch.setenv("METRIC_NAMESPACE", "Kingtavo/Backups")
        yield token


def _backup(status: str, hours_ago: float) -> dict:
    inserted = (NOW - timedelta(hours=hours_ago)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return {"id": secrets.randbelow(10**6), "is_physical_backup": True, "status": status, "inserted_at": inserted}


def _published() -> dict[str, float]:
    cloudwatch = boto3.client("cloudwatch")
    values = {}
    for name in ("HoursSinceLastCompletedBackup", "FailedBackups", "PitrEnabled"):
        stats = cloudwatch.get_metric_statistics(
            Namespace="Kingtavo/Backups", MetricName=name, Dimensions=[{"Name": "Environment", "Value": "staging"}],
            StartTime=NOW - timedelta(hours=1), EndTime=NOW + timedelta(hours=1), Period=3600, Statistics=["Maximum"])
        points = stats["Datapoints"]
        values[name] = points[0]["Maximum"] if points else None
    return values


def test_fresh_backups_publish_healthy_metrics_and_send_the_token(api, aws_env):
    api.body = {"pitr_enabled": True, "walg_enabled": True,
                "backups": [_backup("COMPLETED", 30), _backup("COMPLETED", 5)]}
    result = handler.lambda_handler({}, None, now=NOW)
    assert result == {"HoursSinceLastCompletedBackup": 5.0, "FailedBackups": 0.0, "PitrEnabled": 1.0}
    assert _published() == result
    assert api.requests == [{"path": f"/v1/projects/{REF}/database/backups", "authorization": f"Bearer {aws_env}"}]


def test_a_stale_backup_reports_its_age(api, aws_env):
    api.body = {"pitr_enabled": False, "backups": [_backup("COMPLETED", 27.5), _backup("PENDING", 1)]}
    handler.lambda_handler({}, None, now=NOW)
    assert _published()["HoursSinceLastCompletedBackup"] == 27.5


def test_a_failed_backup_is_counted_only_within_a_day(api, aws_env):
    api.body = {"pitr_enabled": False, "backups": [_backup("COMPLETED", 2), _backup("FAILED", 3),
                                                   _backup("FAILED", 30)]}
    handler.lambda_handler({}, None, now=NOW)
    assert _published()["FailedBackups"] == 1.0


def test_pitr_off_is_reported(api, aws_env):
    api.body = {"pitr_enabled": False, "backups": [_backup("COMPLETED", 2)]}
    handler.lambda_handler({}, None, now=NOW)
    assert _published()["PitrEnabled"] == 0.0


def test_pitr_physical_backup_point_counts_as_a_backup(api, aws_env):
    latest = (NOW - timedelta(hours=1)).timestamp()
    api.body = {"pitr_enabled": True, "backups": [],
                "physical_backup_data": {"earliest_physical_backup_date_unix": latest - 86400,
                                         "latest_physical_backup_date_unix": latest}}
    assert handler.lambda_handler({}, None, now=NOW)["HoursSinceLastCompletedBackup"] == 1.0


def test_no_completed_backup_at_all_is_far_past_any_threshold(api, aws_env):
    api.body = {"pitr_enabled": False, "backups": [_backup("FAILED", 1)]}
    assert handler.lambda_handler({}, None, now=NOW)["HoursSinceLastCompletedBackup"] == handler.NO_BACKUP_HOURS


@pytest.mark.parametrize(("status", "body", "message"), [
    (401, {"message": "Unauthorized"}, 'HTTP 401: {"message": "Unauthorized"}'),
    (500, {"message": "internal"}, 'HTTP 500: {"message": "internal"}'),
    (200, {"unexpected": True}, "no 'backups' list in the answer"),
    (200, b"<html>", "not JSON"),
])
def test_an_api_error_is_raised_not_swallowed_and_publishes_nothing(api, aws_env, status, body, message):
    api.status, api.body = status, body
    with pytest.raises(handler.BackupApiError) as caught:
        handler.lambda_handler({}, None, now=NOW)
    assert str(caught.value) == f"backup list for project {REF}: {message}"
    assert aws_env not in str(caught.value)
    assert all(value is None for value in _published().values())


def test_an_unreachable_api_is_an_error(monkeypatch, aws_env):
    monkeypatch.setenv("SUPABASE_API_URL", "http://127.0.0.1:9")
    with pytest.raises(handler.BackupApiError, match=f"backup list for project {REF}: "):
        handler.lambda_handler({}, None, now=NOW)
