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
    sys.path.insert(0, str(ROOT / "lambdas/backup_monitor"))  # its siblings, as in the zip
    try:
        spec = importlib.util.spec_from_file_location("backup_monitor_handler",
                                                      ROOT / "lambdas/backup_monitor/handler.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(ROOT / "lambdas/backup_monitor"))


handler = _load_handler()


class ManagementApi:
    """A local stand-in for GET /v1/projects/{ref}/database/backups that records what it was sent."""

    def __init__(self):
        self.status = 200
        self.body: object = {}
        self.headers: dict[str, str] = {}
        self.requests: list[dict] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                api.requests.append({"path": self.path, "authorization": self.headers.get("Authorization")})
                payload = json.dumps(api.body).encode() if not isinstance(api.body, bytes) else api.body
                self.send_response(api.status)
                self.send_header("Content-Type", "application/json")
                for name, value in api.headers.items():
                    self.send_header(name, value)
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
        # the archive with last night's dump, 5 hours old, as the dump job names it
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="kingtavo-staging-db-backups", CreateBucketConfiguration={
            "LocationConstraint": "eu-central-1"})
        stamp = (NOW - timedelta(hours=5)).strftime("%Y%m%dT%H%M%SZ")
        s3.put_object(Bucket="kingtavo-staging-db-backups", Key=f"daily/staging-{stamp}.dump", Body=b"PGDMP")
        monkeypatch.setenv("BACKUP_BUCKET", "kingtavo-staging-db-backups")
        yield token


def _backup(status: str, hours_ago: float) -> dict:
    inserted = (NOW - timedelta(hours=hours_ago)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return {"id": secrets.randbelow(10**6), "is_physical_backup": True, "status": status, "inserted_at": inserted}


def _published() -> dict[str, float]:
    cloudwatch = boto3.client("cloudwatch")
    values = {}
    for name in ("HoursSinceLastCompletedBackup", "FailedBackups", "PitrEnabled", "FutureDatedBackups",
                 "HoursSinceNewestDump"):
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
    assert result == {"HoursSinceLastCompletedBackup": 5.0, "FailedBackups": 0.0, "PitrEnabled": 1.0,
                      "FutureDatedBackups": 0.0, "HoursSinceNewestDump": 5.0}
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
    (401, {"message": "Unauthorized"}, "HTTP 401: Unauthorized"),
    (500, {"message": "internal"}, "HTTP 500: internal"),
    (502, b"<html>bad gateway</html>", "HTTP 502: (no message; 24 bytes of body not shown)"),
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
    with pytest.raises(handler.BackupApiError, match=f"backup list for project {REF}: unreachable: "):
        handler.lambda_handler({}, None, now=NOW)


# --- hardening (issue 19) ------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [
    "http://localhost.attacker.example",
    "http://localhost@attacker.example/",
    "http://127.0.0.1.nip.io",
    "http://127.0.0.1@attacker.example",
    "http://localhost\\@attacker.example/",
    "http://attacker.example/?next=http://localhost",
    "http://127.0.0.1:99999",
    "ftp://localhost/",
    "https://api.supabase.com\n.attacker.example",
])
def test_plain_http_is_allowed_only_to_exactly_this_machine(api, aws_env, monkeypatch, url):
    monkeypatch.setenv("SUPABASE_API_URL", url)
    with pytest.raises(ValueError, match="SUPABASE_API_URL"):
        handler.lambda_handler({}, None, now=NOW)
    # and the request path refuses it too, whoever built the settings
    settings = handler.Settings("staging", REF, url, "arn", "Kingtavo/Backups")
    with pytest.raises(handler.BackupApiError, match="refusing to send the access token"):
        handler.fetch_backups(settings, aws_env)
    assert api.requests == []


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost:8080/", "http://[::1]:8080",
                                 "https://api.supabase.com", "https://api.supabase.com/"])
def test_https_anywhere_and_plain_http_to_this_machine_are_accepted(url):
    assert handler.url_problem(url) is None
    assert not handler._checked_api_url(url).endswith("/")


def test_an_api_error_body_that_echoes_the_request_is_redacted(api, aws_env, caplog):
    caplog.set_level("INFO")  # the function's application log level (botocore's DEBUG would print the secret)
    api.status = 400
    api.body = {"message": f"bad request: Authorization: Bearer {aws_env} (token={aws_env})",
                "request": {"headers": {"authorization": f"Bearer {aws_env}"}}}
    with pytest.raises(handler.BackupApiError) as caught:
        handler.lambda_handler({}, None, now=NOW)
    message = str(caught.value)
    assert message.startswith(f"backup list for project {REF}: HTTP 400: bad request: Authorization: ")
    assert aws_env not in message and "Bearer fake" not in message and aws_env not in caplog.text


@pytest.mark.parametrize("body", [
    lambda token: f"GET /v1/projects HTTP/1.1\r\nAuthorization: Bearer {token}\r\n".encode(),
    lambda token: json.dumps({"detail": f"Bearer {token}"}).encode(),
    lambda token: json.dumps({"message": "x" * 5000 + token}).encode(),
])
def test_an_error_body_is_never_copied_into_the_exception(api, aws_env, body):
    api.status, api.body = 500, body(aws_env)
    with pytest.raises(handler.BackupApiError) as caught:
        handler.lambda_handler({}, None, now=NOW)
    assert aws_env not in str(caught.value) and "Bearer" not in str(caught.value)
    assert len(str(caught.value)) < 400


def test_a_redirect_is_refused_and_the_token_does_not_follow_it(api, aws_env):
    elsewhere = ManagementApi()
    try:
        api.status, api.headers = 302, {"Location": f"{elsewhere.url}/collect"}
        with pytest.raises(handler.BackupApiError, match="HTTP 302: redirect refused"):
            handler.lambda_handler({}, None, now=NOW)
        assert elsewhere.requests == []
    finally:
        elsewhere.close()


def test_a_backup_dated_in_the_future_does_not_read_as_fresh(api, aws_env):
    api.body = {"pitr_enabled": False, "backups": [_backup("COMPLETED", 30), _backup("COMPLETED", -48)]}
    result = handler.lambda_handler({}, None, now=NOW)
    assert result["HoursSinceLastCompletedBackup"] == 30.0
    assert result["FutureDatedBackups"] == 1.0
    assert _published()["FutureDatedBackups"] == 1.0


def test_a_pitr_point_dated_in_the_future_does_not_read_as_fresh(api, aws_env):
    api.body = {"pitr_enabled": True, "backups": [],
                "physical_backup_data": {"latest_physical_backup_date_unix": (NOW + timedelta(days=2)).timestamp()}}
    result = handler.lambda_handler({}, None, now=NOW)
    assert result["HoursSinceLastCompletedBackup"] == handler.NO_BACKUP_HOURS
    assert result["FutureDatedBackups"] == 1.0


def test_a_backup_a_few_seconds_ahead_of_our_clock_reads_as_just_taken(api, aws_env):
    api.body = {"pitr_enabled": False, "backups": [_backup("COMPLETED", -0.01)]}
    result = handler.lambda_handler({}, None, now=NOW)
    assert result["HoursSinceLastCompletedBackup"] == 0.0 and result["FutureDatedBackups"] == 0.0


@pytest.mark.parametrize(("document", "field"), [
    ({"backups": [1]}, "backups[0]: expected an object"),
    ({"backups": [{"status": "COMPLETED"}]}, "backups[0].inserted_at: expected an ISO 8601 timestamp"),
    ({"backups": [{"status": "COMPLETED", "inserted_at": "yesterday"}]}, "backups[0].inserted_at"),
    ({"backups": [{"status": "FAILED", "inserted_at": 1764331200}]}, "backups[0].inserted_at"),
    ({"backups": [{"status": None, "inserted_at": "2026-11-28T10:00:00Z"}]}, "backups[0].status: expected a string"),
    ({"backups": [], "pitr_enabled": "yes"}, "pitr_enabled: expected true or false"),
    ({"backups": [], "pitr_enabled": True, "physical_backup_data": []}, "physical_backup_data: expected an object"),
    ({"backups": [], "pitr_enabled": True, "physical_backup_data": {"latest_physical_backup_date_unix": "soon"}},
     "physical_backup_data.latest_physical_backup_date_unix"),
    ({"backups": [], "pitr_enabled": True, "physical_backup_data": {"latest_physical_backup_date_unix": 1e300}},
     "physical_backup_data.latest_physical_backup_date_unix"),
])
def test_a_malformed_backup_list_raises_the_api_error_and_publishes_nothing(api, aws_env, document, field):
    api.body = document
    with pytest.raises(handler.BackupApiError) as caught:
        handler.lambda_handler({}, None, now=NOW)
    assert f"backup list: {field}" in str(caught.value)
    assert all(value is None for value in _published().values())


def test_the_run_publishes_the_newest_dump_s_age_from_the_archive(api, aws_env):
    """The archive side (dump_age.py) runs in the handler: last night's dump is 5 hours old."""
    api.body = {"pitr_enabled": True, "walg_enabled": True, "backups": [_backup("COMPLETED", 2)]}
    assert handler.lambda_handler({}, None, now=NOW)["HoursSinceNewestDump"] == pytest.approx(5.0)
    assert _published()["HoursSinceNewestDump"] == pytest.approx(5.0)
