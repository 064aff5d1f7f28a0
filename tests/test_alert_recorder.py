"""lambdas/alert_recorder: SNS alarm notifications and Alertmanager webhooks into ops.alerts, written as the
recorder login over verified TLS (moto for Secrets Manager, the real PostgreSQL with the migrations)."""

from __future__ import annotations

import base64
import importlib.util
import json
import secrets
import sys
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from tests.support.recorder import LOGIN, recorder_db  # noqa: F401 - the fixture

ROOT = Path(__file__).resolve().parent.parent
FUNCTION_DIR = ROOT / "lambdas" / "alert_recorder"
CRITICAL_TOPIC = "arn:aws:sns:eu-central-1:111122223333:kingtavo-production-alerts-critical"
WARNING_TOPIC = "arn:aws:sns:eu-central-1:111122223333:kingtavo-production-alerts-warning"


def load_handler():
    sys.path.insert(0, str(FUNCTION_DIR))  # its siblings, as in the zip
    try:
        spec = importlib.util.spec_from_file_location("alert_recorder_handler", FUNCTION_DIR / "handler.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(FUNCTION_DIR))


@pytest.fixture
def receiver(recorder_db, monkeypatch):  # noqa: F811
    for key, value in {"AWS_DEFAULT_REGION": "eu-central-1", "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing", "ENVIRONMENT": "production",
                       "PGSSLROOTCERT": str(recorder_db.ca.ca_cert)}.items():
        monkeypatch.setenv(key, value)
    token = "fake-am-token-" + secrets.token_hex(12)
    with mock_aws():
        client = boto3.client("secretsmanager")
        recorder = client.create_secret(Name="kingtavo/production/ops-recorder", SecretString=json.dumps({
            "engine": "postgres", "host": "127.0.0.1", "port": recorder_db.server.port, "username": LOGIN,
            "password": recorder_db.password, "dbname": recorder_db.database}))["ARN"]
        am = client.create_secret(Name="kingtavo/production/alertmanager-webhook", SecretString=token)["ARN"]
        monkeypatch.setenv("OPS_RECORDER_SECRET_ARN", recorder)
        monkeypatch.setenv("ALERTMANAGER_TOKEN_SECRET_ARN", am)
        handler = load_handler()
        yield handler, token, client, recorder


def sns_event(topic: str, message: dict | str, subject: str = "ALARM") -> dict:
    body = message if isinstance(message, str) else json.dumps(message)
    return {"Records": [{"EventSource": "aws:sns", "Sns": {
        "TopicArn": topic, "Subject": subject, "Message": body, "Timestamp": "2026-12-01T10:00:05.000Z"}}]}


def alarm(state: str, name: str, arn: str) -> dict:
    return {"AlarmName": name, "AlarmArn": arn, "NewStateValue": state, "OldStateValue": "OK",
            "NewStateReason": "Threshold Crossed: 1 datapoint [30.0] was greater than the threshold (26.0).",
            "StateChangeTime": "2026-12-01T10:00:00.000+0000"}


def webhook(token: str | None, alerts: list[dict], base64_body: bool = False) -> dict:
    body = json.dumps({"version": "4", "status": "firing", "receiver": "ops-record", "alerts": alerts})
    headers = {"content-type": "application/json"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    return {"requestContext": {"http": {"method": "POST"}}, "headers": headers, "isBase64Encoded": base64_body,
            "body": base64.b64encode(body.encode()).decode() if base64_body else body}


def am_alert(status: str, name: str, fingerprint: str, severity: str = "critical") -> dict:
    return {"status": status, "labels": {"alertname": name, "severity": severity, "namespace": "etl"},
            "annotations": {"summary": f"{name} summary"}, "startsAt": "2026-12-01T10:00:00Z",
            "endsAt": "2026-12-01T10:20:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
            "fingerprint": fingerprint}


def test_a_cloudwatch_alarm_is_recorded_once_and_resolved_by_its_ok(receiver, recorder_db):  # noqa: F811
    handler, *_ = receiver
    arn = f"arn:aws:cloudwatch:eu-central-1:111122223333:alarm:kingtavo production backup age {secrets.token_hex(3)}"
    assert handler.lambda_handler(sns_event(CRITICAL_TOPIC, alarm("ALARM", "kingtavo production backup age", arn))) \
        == {"outcomes": ["recorded"]}
    handler.lambda_handler(sns_event(CRITICAL_TOPIC, alarm("ALARM", "kingtavo production backup age", arn)))
    rows = recorder_db.rows("SELECT source, name, severity, fired_at::text, resolved_at, recorded_by FROM ops.alerts "
                            "WHERE fingerprint = :f", f=arn)
    assert rows == [["cloudwatch", "kingtavo-production-backup-age", "critical", "2026-12-01 10:00:00+00", None,
                     LOGIN]]
    assert handler.lambda_handler(sns_event(WARNING_TOPIC, alarm("OK", "kingtavo production backup age", arn))) \
        == {"outcomes": ["resolved"]}
    assert recorder_db.rows("SELECT resolved_at IS NOT NULL FROM ops.alerts WHERE fingerprint = :f", f=arn) == [[True]]
    assert handler.lambda_handler(sns_event(WARNING_TOPIC, alarm("INSUFFICIENT_DATA", "x", arn))) == \
        {"outcomes": ["ignored"]}


def test_the_vercel_forwarders_alarm_is_recorded_as_vercel(receiver, recorder_db):  # noqa: F811
    handler, *_ = receiver
    name = f"vercel: 5xx rate ({secrets.token_hex(3)})"
    message = {**alarm("ALARM", name, ""), "Source": "vercel", "AlarmArn": None,
               "NewStateReason": "Vercel alert '5xx rate' fired on project kingtavo-web"}
    handler.lambda_handler(sns_event(CRITICAL_TOPIC, message))
    rows = recorder_db.rows("SELECT source, severity, summary, fingerprint FROM ops.alerts WHERE name = :n",
                            n=handler.alert_name(name))
    assert rows == [["vercel", "critical", "Vercel alert '5xx rate' fired on project kingtavo-web", None]]


def test_alertmanager_firing_and_resolved_alerts(receiver, recorder_db):  # noqa: F811
    handler, token, *_ = receiver
    fingerprint = secrets.token_hex(8)
    answer = handler.lambda_handler(webhook(token, [am_alert("firing", "EtlHttp5xxRateHigh", fingerprint),
                                                    am_alert("firing", "Watchdog", "w", "none")], base64_body=True))
    assert answer["statusCode"] == 200
    assert json.loads(json.loads(answer["body"])["message"]) == {"recorded": 1, "resolved": 0, "ignored": 1,
                                                                 "failed": 0}
    handler.lambda_handler(webhook(token, [am_alert("resolved", "EtlHttp5xxRateHigh", fingerprint)]))
    rows = recorder_db.rows("SELECT source, name, severity, summary, resolved_at::text FROM ops.alerts "
                            "WHERE fingerprint = :f", f=fingerprint)
    assert rows == [["prometheus", "EtlHttp5xxRateHigh", "critical", "EtlHttp5xxRateHigh summary",
                     "2026-12-01 10:20:00+00"]]
    assert recorder_db.rows("SELECT count(*) FROM ops.alerts WHERE name = 'Watchdog'") == [[0]]


@pytest.mark.parametrize("token", [None, "fake-wrong-token", ""])
def test_a_webhook_without_the_token_is_refused_before_anything_is_read(receiver, recorder_db, token):  # noqa: F811
    handler, *_ = receiver
    fingerprint = secrets.token_hex(8)
    answer = handler.lambda_handler(webhook(token, [am_alert("firing", "Intruder", fingerprint)]))
    assert answer["statusCode"] == 401
    assert recorder_db.rows("SELECT count(*) FROM ops.alerts WHERE fingerprint = :f", f=fingerprint) == [[0]]


def test_bad_webhook_bodies_are_rejected(receiver):
    handler, token, *_ = receiver
    event = webhook(token, [])
    assert handler.lambda_handler({**event, "body": "not json"})["statusCode"] == 400
    assert handler.lambda_handler({**event, "body": json.dumps({"alerts": "x"})})["statusCode"] == 400
    assert handler.lambda_handler({**event, "body": "x" * (handler.MAX_BODY_BYTES + 1)})["statusCode"] == 413
    assert handler.lambda_handler({**event, "requestContext": {"http": {"method": "GET"}}})["statusCode"] == 405


def test_a_database_that_refuses_the_write_never_blocks_the_alert(receiver, recorder_db, capsys):  # noqa: F811
    handler, token, client, recorder_arn = receiver
    client.put_secret_value(SecretId=recorder_arn, SecretString=json.dumps({
        "host": "127.0.0.1", "port": recorder_db.server.port, "username": LOGIN, "password": "fake-rotated-away",
        "dbname": recorder_db.database}))
    handler._cache.clear()
    fingerprint = secrets.token_hex(8)
    answer = handler.lambda_handler(webhook(token, [am_alert("firing", "EtlRunsFailing", fingerprint)]))
    assert answer["statusCode"] == 200
    assert '"failed": 1' in json.loads(answer["body"])["message"]
    assert handler.lambda_handler(sns_event(CRITICAL_TOPIC, alarm("ALARM", "x", "arn:x"))) == {"outcomes": ["failed"]}
    out = capsys.readouterr().out
    assert out.count('"OpsRecordWriteFailures": 1') == 2
    assert "fake-rotated-away" not in out and token not in out
