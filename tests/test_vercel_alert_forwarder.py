"""The Vercel alert forwarder Lambda against moto's Secrets Manager and SNS (an SQS subscriber reads what it published).

Requests are built the way a Lambda Function URL delivers them (payload format 2.0): lower-cased
`headers`, the raw `body` as a string, `isBase64Encoded`, and `requestContext.http.method`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib.util
import json
import logging
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

ROOT = Path(__file__).resolve().parent.parent
REGION = "eu-central-1"
PROJECT_ID = "prj_" + "kingtavoprod0000000000001"
ALERT_NAME = "Production HTTP 5xx share above 5%"


def _load_handler():
    spec = importlib.util.spec_from_file_location("vercel_alert_forwarder_handler",
                                                  ROOT / "lambdas/vercel_alert_forwarder/handler.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


handler = _load_handler()


@dataclass
class Forwarder:
    """The function's AWS surroundings in moto and a way to read what reached the critical topic."""

    secret: str
    secret_arn: str
    topic_arn: str
    queue_url: str

    def published(self) -> list[dict]:
        sqs = boto3.client("sqs", region_name=REGION)
        messages = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(message["Body"]) for message in messages]


@pytest.fixture
def forwarder(monkeypatch) -> Forwarder:
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}.items():
        monkeypatch.setenv(key, value)
    handler._secret_cache.clear()
    with mock_aws():
        secret = "fake-" + secrets.token_hex(12)
        secret_arn = boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name="kingtavo/production/vercel-alert-webhook", SecretString=secret)["ARN"]
        sns = boto3.client("sns", region_name=REGION)
        topic_arn = sns.create_topic(Name="kingtavo-production-alerts-critical")["TopicArn"]
        sqs = boto3.client("sqs", region_name=REGION)
        queue_url = sqs.create_queue(QueueName="critical-reader")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        monkeypatch.setenv("CRITICAL_TOPIC_ARN", topic_arn)
        monkeypatch.setenv("WEBHOOK_SECRET_ARN", secret_arn)
        monkeypatch.setenv("VERCEL_PROJECT_ID", PROJECT_ID)
        yield Forwarder(secret=secret, secret_arn=secret_arn, topic_arn=topic_arn, queue_url=queue_url)
    handler._secret_cache.clear()


def alert_delivery(project_id: str = PROJECT_ID, event_type: str = "alerts.triggered") -> bytes:
    delivery = {
        "id": "whd_" + secrets.token_hex(8),
        "type": event_type,
        "createdAt": 1764331200000,
        "region": None,
        "payload": {
            "team": {"id": "team_kingtavo"},
            "project": {"id": project_id, "name": "kingtavo-web"},
            "alert": {"name": ALERT_NAME, "severity": "high"},
            "links": {"alert": "https://vercel.com/kingtavo/kingtavo-web/observability/alerts"},
        },
    }
    return json.dumps(delivery, separators=(",", ":")).encode()


def sign(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def function_url_event(body: bytes, signature: str | None, base64_body: bool = False, method: str = "POST") -> dict:
    headers = {"content-type": "application/json", "user-agent": "Vercel-Webhook", "host": "fake.lambda-url.aws"}
    if signature is not None:
        headers["x-vercel-signature"] = signature
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/",
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {"http": {"method": method, "path": "/", "protocol": "HTTP/1.1",
                                    "sourceIp": "76.76.21.21", "userAgent": "Vercel-Webhook"}},
        "body": base64.b64encode(body).decode() if base64_body else body.decode(),
        "isBase64Encoded": base64_body,
    }


def test_a_signed_alert_pages_the_critical_topic(forwarder):
    body = alert_delivery()
    result = handler.lambda_handler(function_url_event(body, sign(body, forwarder.secret)))
    assert result["statusCode"] == 200
    [notification] = forwarder.published()
    assert notification["TopicArn"] == forwarder.topic_arn
    assert notification["Subject"] == f"ALARM: vercel: {ALERT_NAME} (kingtavo-web)"
    alarm = json.loads(notification["Message"])
    assert alarm["NewStateValue"] == "ALARM"
    assert alarm["AlarmName"] == f"vercel: {ALERT_NAME} (kingtavo-web)"
    assert alarm["Vercel"] | {"deliveryId": None} == {
        "alert": ALERT_NAME, "project": "kingtavo-web", "severity": "high",
        "link": "https://vercel.com/kingtavo/kingtavo-web/observability/alerts", "deliveryId": None}
    assert "severity high" in alarm["NewStateReason"] and "kingtavo-web" in alarm["NewStateReason"]


def test_a_base64_encoded_body_is_verified_on_its_decoded_bytes(forwarder):
    body = alert_delivery()
    result = handler.lambda_handler(function_url_event(body, sign(body, forwarder.secret), base64_body=True))
    assert result["statusCode"] == 200
    assert len(forwarder.published()) == 1


@pytest.mark.parametrize("signature_of", ["wrong-secret", "tampered-body", "missing", "empty"])
def test_an_unsigned_or_wrongly_signed_request_is_forbidden_and_publishes_nothing(forwarder, signature_of):
    body = alert_delivery()
    signature = {
        "wrong-secret": sign(body, "fake-" + secrets.token_hex(12)),
        "tampered-body": sign(body + b" ", forwarder.secret),
        "missing": None,
        "empty": "",
    }[signature_of]
    result = handler.lambda_handler(function_url_event(body, signature))
    assert result["statusCode"] == 403
    assert forwarder.published() == []


def test_a_signed_event_of_another_type_is_ignored(forwarder):
    body = alert_delivery(event_type="deployment.created")
    result = handler.lambda_handler(function_url_event(body, sign(body, forwarder.secret)))
    assert result["statusCode"] == 202
    assert json.loads(result["body"]) == {"message": "ignored"}
    assert forwarder.published() == []


def test_a_signed_alert_about_another_project_is_ignored(forwarder):
    body = alert_delivery(project_id="prj_" + "someoneelse00000000000001")
    result = handler.lambda_handler(function_url_event(body, sign(body, forwarder.secret)))
    assert result["statusCode"] == 202
    assert forwarder.published() == []


@pytest.mark.parametrize("body", [b"not json at all", b"{\"type\": \"alerts.triggered\"", b"[1, 2, 3]"])
def test_a_signed_body_that_is_not_a_json_object_is_a_bad_request(forwarder, body):
    result = handler.lambda_handler(function_url_event(body, sign(body, forwarder.secret)))
    assert result["statusCode"] == 400
    assert forwarder.published() == []


def test_an_unsigned_body_that_is_not_json_is_forbidden_not_parsed(forwarder):
    result = handler.lambda_handler(function_url_event(b"not json at all", None))
    assert result["statusCode"] == 403


def test_only_post_is_accepted(forwarder):
    body = alert_delivery()
    result = handler.lambda_handler(function_url_event(body, sign(body, forwarder.secret), method="GET"))
    assert result["statusCode"] == 405
    assert forwarder.published() == []


def test_neither_the_secret_nor_a_signature_reaches_a_response_or_a_log_line(forwarder, caplog):
    # The function runs with application logs at INFO (components/alerting/routing.py); its own logger at DEBUG here.
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger=handler.LOG.name)
    good, other_type = alert_delivery(), alert_delivery(event_type="project.created")
    requests = [
        function_url_event(good, sign(good, forwarder.secret)),
        function_url_event(good, sign(good, "fake-" + secrets.token_hex(12))),
        function_url_event(b"not json", sign(b"not json", forwarder.secret)),
        function_url_event(other_type, sign(other_type, forwarder.secret)),
    ]
    responses = [handler.lambda_handler(request) for request in requests]
    assert [r["statusCode"] for r in responses] == [200, 403, 400, 202]
    assert caplog.records, "the handler logs its decisions"
    signatures = [request["headers"]["x-vercel-signature"] for request in requests]
    published = json.dumps(forwarder.published())
    for text in [caplog.text, json.dumps(responses), published]:
        assert forwarder.secret not in text
        assert not [s for s in signatures if s in text]


def test_the_secret_is_cached_then_refreshed(forwarder):
    client = boto3.client("secretsmanager", region_name=REGION)
    first = handler.webhook_secret(forwarder.secret_arn, now=1000.0)
    rotated = "fake-" + secrets.token_hex(12)
    client.put_secret_value(SecretId=forwarder.secret_arn, SecretString=rotated)
    assert handler.webhook_secret(forwarder.secret_arn, now=1000.0 + 10) == first == forwarder.secret.encode()
    later = 1000.0 + handler.SECRET_CACHE_SECONDS + 1
    assert handler.webhook_secret(forwarder.secret_arn, now=later) == rotated.encode()


def test_an_alert_of_unexpected_shape_still_pages(forwarder):
    body = json.dumps({"id": "whd_1", "type": "alerts.triggered", "payload": {"something": "new"}}).encode()
    result = handler.lambda_handler(function_url_event(body, sign(body, forwarder.secret)))
    assert result["statusCode"] == 200
    [notification] = forwarder.published()
    alarm = json.loads(notification["Message"])
    assert alarm["NewStateValue"] == "ALARM"
    assert alarm["Vercel"]["project"] == "unknown" and alarm["Vercel"]["link"] == "unknown"
