"""The Vercel alert forwarder Lambda against moto's Secrets Manager, DynamoDB and SNS.

An SQS subscriber of the topic reads what it published.

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
import time
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

ROOT = Path(__file__).resolve().parent.parent
REGION = "eu-central-1"
PROJECT_ID = "prj_" + "kingtavoprod0000000000001"
OTHER_PRODUCTION_PROJECT_ID = "prj_" + "kingtavoapi00000000000001"
TABLE_NAME = "kingtavo-production-vercel-alert-deliveries"
MAX_AGE_SECONDS, MAX_SKEW_SECONDS = 3600, 300  # the handler's defaults (checked below)
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

    def delivery_record(self, delivery_id: str) -> dict | None:
        item = boto3.client("dynamodb", region_name=REGION).get_item(
            TableName=TABLE_NAME, Key={"deliveryId": {"S": delivery_id}}, ConsistentRead=True).get("Item")
        return None if item is None else {key: next(iter(value.values())) for key, value in item.items()}


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
        # What the stack declares: the delivery id as the key, `expiresAt` as the TTL attribute.
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(TableName=TABLE_NAME, BillingMode="PAY_PER_REQUEST",
                              AttributeDefinitions=[{"AttributeName": "deliveryId", "AttributeType": "S"}],
                              KeySchema=[{"AttributeName": "deliveryId", "KeyType": "HASH"}])
        dynamodb.update_time_to_live(TableName=TABLE_NAME,
                                     TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiresAt"})
        monkeypatch.setenv("CRITICAL_TOPIC_ARN", topic_arn)
        monkeypatch.setenv("WEBHOOK_SECRET_ARN", secret_arn)
        monkeypatch.setenv("DELIVERY_TABLE_NAME", TABLE_NAME)
        monkeypatch.setenv("VERCEL_PROJECT_IDS", f"{PROJECT_ID}, {OTHER_PRODUCTION_PROJECT_ID}")
        monkeypatch.delenv("VERCEL_PROJECT_ID", raising=False)
        yield Forwarder(secret=secret, secret_arn=secret_arn, topic_arn=topic_arn, queue_url=queue_url)
    handler._secret_cache.clear()


def alert_delivery(project_id: str | None = PROJECT_ID, event_type: str = "alerts.triggered",
                   delivery_id: str | None = None, age_seconds: float = 5.0, name: str = ALERT_NAME,
                   link: str = "https://vercel.com/kingtavo/kingtavo-web/observability/alerts") -> bytes:
    project = {"name": "kingtavo-web"} if project_id is None else {"id": project_id, "name": "kingtavo-web"}
    delivery = {
        "id": delivery_id or "whd_" + secrets.token_hex(8),
        "type": event_type,
        "createdAt": int((time.time() - age_seconds) * 1000),  # Vercel: milliseconds since the epoch
        "region": None,
        "payload": {
            "team": {"id": "team_kingtavo"},
            "project": project,
            "alert": {"name": name, "severity": "high"},
            "links": {"alert": link},
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
    body = json.dumps({"id": "whd_1", "type": "alerts.triggered", "createdAt": int(time.time() * 1000),
                       "payload": {"something": "new", "projectId": PROJECT_ID}}).encode()
    result = handler.lambda_handler(function_url_event(body, sign(body, forwarder.secret)))
    assert result["statusCode"] == 200
    [notification] = forwarder.published()
    alarm = json.loads(notification["Message"])
    assert alarm["NewStateValue"] == "ALARM"
    assert alarm["Vercel"]["project"] == PROJECT_ID and alarm["Vercel"]["link"] == "unknown"


# --- hardening (issue 19) ------------------------------------------------------------------------------------


def page(forwarder, body: bytes) -> dict:
    return handler.lambda_handler(function_url_event(body, sign(body, forwarder.secret)))


@pytest.mark.parametrize(("age_seconds", "reason"), [
    (30 * 86400, "seconds old"),          # a captured delivery replayed a month later
    (MAX_AGE_SECONDS + 60, "seconds old"),
    (-(MAX_SKEW_SECONDS + 60), "in the future"),
])
def test_a_signed_delivery_outside_the_timestamp_window_does_not_page(forwarder, age_seconds, reason):
    body = alert_delivery(age_seconds=age_seconds)
    result = page(forwarder, body)
    assert result["statusCode"] == 400
    assert reason in json.loads(result["body"])["message"]
    assert forwarder.published() == []


def test_a_signed_delivery_inside_the_window_and_a_little_clock_skew_pages(forwarder):
    assert (handler.DEFAULT_MAX_AGE_SECONDS, handler.DEFAULT_MAX_SKEW_SECONDS) == (MAX_AGE_SECONDS, MAX_SKEW_SECONDS)
    assert page(forwarder, alert_delivery(age_seconds=MAX_AGE_SECONDS - 60))["statusCode"] == 200
    assert page(forwarder, alert_delivery(age_seconds=-60))["statusCode"] == 200
    assert len(forwarder.published()) == 2


@pytest.mark.parametrize(("change", "field"), [
    ({"createdAt": None}, "createdAt"), ({"createdAt": "yesterday"}, "createdAt"),
    ({"createdAt": True}, "createdAt"), ({"id": None}, "id"), ({"id": ""}, "id"), ({"id": 42}, "id"),
])
def test_a_signed_delivery_without_an_id_or_a_timestamp_does_not_page(forwarder, change, field):
    delivery = {**json.loads(alert_delivery()), **change}
    body = json.dumps(delivery).encode()
    result = page(forwarder, body)
    assert result["statusCode"] == 400
    assert json.loads(result["body"])["message"].startswith(field)
    assert forwarder.published() == []


def test_the_same_delivery_id_sent_twice_pages_once(forwarder):
    body = alert_delivery(delivery_id="whd_replayed0001")
    first, second = page(forwarder, body), page(forwarder, body)
    assert (first["statusCode"], second["statusCode"]) == (200, 200)
    assert json.loads(second["body"]) == {"message": "duplicate"}
    assert len(forwarder.published()) == 1
    record = forwarder.delivery_record("whd_replayed0001")
    assert record["status"] == "published"
    settings = handler.Settings.from_env()
    # kept past the whole window, then DynamoDB's TTL (attribute expiresAt) removes it
    assert int(record["expiresAt"]) - int(record["claimedAt"]) == settings.ttl_seconds
    assert settings.ttl_seconds > settings.max_age_seconds + settings.max_skew_seconds


def test_a_failed_publish_releases_the_delivery_so_the_retry_pages(forwarder, monkeypatch):
    body = alert_delivery(delivery_id="whd_retried00001")
    monkeypatch.setenv("CRITICAL_TOPIC_ARN", forwarder.topic_arn + "-missing")
    with pytest.raises(Exception, match="NotFound"):
        page(forwarder, body)
    assert forwarder.delivery_record("whd_retried00001") is None

    monkeypatch.setenv("CRITICAL_TOPIC_ARN", forwarder.topic_arn)
    assert page(forwarder, body)["statusCode"] == 200
    assert len(forwarder.published()) == 1


def test_a_claim_in_flight_is_a_duplicate_but_an_abandoned_one_is_taken_over(forwarder):
    settings = handler.Settings.from_env()
    now = time.time()
    in_flight = alert_delivery(delivery_id="whd_inflight0001")
    abandoned = alert_delivery(delivery_id="whd_abandoned001")
    assert handler.claim_delivery(settings, "whd_inflight0001", now - 5) is True
    assert handler.claim_delivery(settings, "whd_abandoned001", now - handler.CLAIM_LEASE_SECONDS - 5) is True

    assert json.loads(page(forwarder, in_flight)["body"]) == {"message": "duplicate"}
    assert json.loads(page(forwarder, abandoned)["body"]) == {"message": "forwarded"}
    assert [json.loads(n["Message"])["Vercel"]["deliveryId"] for n in forwarder.published()] == ["whd_abandoned001"]
    assert forwarder.delivery_record("whd_abandoned001")["status"] == "published"


def test_an_unreachable_delivery_table_still_pages(forwarder, monkeypatch):
    monkeypatch.setenv("DELIVERY_TABLE_NAME", "no-such-table")
    assert page(forwarder, alert_delivery())["statusCode"] == 200
    assert len(forwarder.published()) == 1


def test_an_alert_without_a_project_id_does_not_page(forwarder):
    result = page(forwarder, alert_delivery(project_id=None))
    assert result["statusCode"] == 202
    assert forwarder.published() == []


def test_every_configured_production_project_pages_and_only_those(forwarder):
    assert page(forwarder, alert_delivery(project_id=OTHER_PRODUCTION_PROJECT_ID))["statusCode"] == 200
    assert page(forwarder, alert_delivery(project_id="prj_" + "staging0000000000000001"))["statusCode"] == 202
    assert len(forwarder.published()) == 1


@pytest.mark.parametrize(("env", "named"), [
    ({"VERCEL_PROJECT_IDS": " , "}, "VERCEL_PROJECT_IDS"),
    ({"DELIVERY_TABLE_NAME": ""}, "DELIVERY_TABLE_NAME"),
    ({"MAX_DELIVERY_AGE_SECONDS": "soon"}, "MAX_DELIVERY_AGE_SECONDS"),
])
def test_settings_name_the_variable_that_is_missing_or_invalid(forwarder, env, named):
    base = {"CRITICAL_TOPIC_ARN": forwarder.topic_arn, "WEBHOOK_SECRET_ARN": forwarder.secret_arn,
            "DELIVERY_TABLE_NAME": TABLE_NAME, "VERCEL_PROJECT_IDS": PROJECT_ID}
    with pytest.raises(handler.ConfigurationError, match=named):
        handler.Settings.from_env({**base, **env})


def test_the_single_project_variable_is_still_read(forwarder):
    env = {"CRITICAL_TOPIC_ARN": "arn", "WEBHOOK_SECRET_ARN": "arn", "DELIVERY_TABLE_NAME": TABLE_NAME,
           "VERCEL_PROJECT_ID": PROJECT_ID}
    assert handler.Settings.from_env(env).project_ids == {PROJECT_ID}


def test_a_signed_alert_with_a_very_large_field_is_truncated_and_still_pages(forwarder):
    huge_name = "5xx share above 5% \n\t" + "Ü" * 300_000 + " 🔥"
    body = alert_delivery(name=huge_name, link="https://vercel.com/" + "a" * 300_000)
    assert len(body) > handler.SNS_MESSAGE_LIMIT_BYTES
    result = page(forwarder, body)
    assert result["statusCode"] == 200
    [notification] = forwarder.published()
    subject = notification["Subject"]
    assert len(subject) <= handler.SNS_SUBJECT_MAX_CHARS and subject.isascii() and subject.isprintable()
    assert subject.startswith("ALARM: vercel: 5xx share above 5% U")
    alarm = json.loads(notification["Message"])
    assert len(notification["Message"].encode()) < 16_384
    assert alarm["Vercel"]["alert"].startswith("5xx share above 5%")
    assert alarm["Vercel"]["alert"].endswith(handler.ELLIPSIS)
    assert len(alarm["Vercel"]["alert"]) == handler.FIELD_LIMITS["name"]
    assert "\n" not in alarm["AlarmName"]
    assert alarm["Vercel"]["link"] == "unknown"  # a cut link would point nowhere
    assert alarm["Vercel"]["project"] == "kingtavo-web" and alarm["NewStateValue"] == "ALARM"


def test_a_subject_sns_refuses_still_pages_without_one(forwarder, monkeypatch):
    monkeypatch.setattr(handler, "subject_text", lambda _text: "x" * 150)  # moto refuses >100 like SNS
    assert page(forwarder, alert_delivery())["statusCode"] == 200
    [notification] = forwarder.published()
    assert "Subject" not in notification or notification["Subject"] in (None, "")
    assert json.loads(notification["Message"])["NewStateValue"] == "ALARM"


@pytest.fixture
def aws_calls(monkeypatch) -> list[str]:
    """The AWS services the handler creates clients for, in order."""
    calls: list[str] = []
    real_client = handler.boto3.client

    def recording_client(service, *args, **kwargs):
        calls.append(service)
        return real_client(service, *args, **kwargs)

    monkeypatch.setattr(handler.boto3, "client", recording_client)
    return calls


@pytest.mark.parametrize("signature", [None, "", "not-a-signature", "0" * 39, "g" * 40, "0" * 64])
def test_an_unsigned_request_is_refused_before_any_aws_call(forwarder, aws_calls, signature):
    body = alert_delivery()
    result = handler.lambda_handler(function_url_event(body, signature))
    assert result["statusCode"] == 403
    assert aws_calls == []


def test_a_badly_signed_request_reads_only_the_secret(forwarder, aws_calls):
    body = alert_delivery()
    result = handler.lambda_handler(function_url_event(body, sign(body, "fake-" + secrets.token_hex(12))))
    assert result["statusCode"] == 403
    assert aws_calls == ["secretsmanager"]


def test_a_signed_body_nested_too_deeply_for_the_parser_is_a_bad_request(forwarder):
    body = b"[" * 100_000 + b"]" * 100_000
    assert page(forwarder, body)["statusCode"] == 400
