"""Alert receiver: every alert that pages or warns also lands in ops.alerts, the on-call's alert history.

Two doors, one function:
- SNS: subscribed to the critical and warning topics. CloudWatch alarm notifications (and the Vercel
  forwarder's, which use the same shape with "Source": "vercel"): ALARM records a firing alert keyed by
  the alarm ARN, OK resolves it, INSUFFICIENT_DATA is ignored. Severity comes from the topic
  (TOPIC_SEVERITIES, a JSON map of topic ARN to severity; else the topic name's -critical/-warning).
- HTTPS (a Lambda function URL): Alertmanager's webhook (`webhook_configs`, payload version 4) with
  `Authorization: Bearer <token>`; the token (Secrets Manager, ALERTMANAGER_TOKEN_SECRET_ARN, mounted into
  Alertmanager as a credentials_file) is compared in constant time before the body is even parsed.
  Firing alerts are recorded by Alertmanager's fingerprint, resolved ones resolve it. Alerts named in
  IGNORED_ALERTS (default Watchdog, which fires forever by design) are not recorded.

A Lambda rather than a Supabase Edge Function: SNS delivers to a Lambda natively (an Edge Function would
need an HTTPS subscription with its confirmation handshake and message-signature checks), Alertmanager in
the cluster reaches a function URL with a bearer token, and the code is Python tested here with moto and
the real PostgreSQL, next to the other Lambdas.

It writes as the recorder login (tools/ops_record_core.py, packaged next to it by tools/build_lambdas.py):
the secret at
OPS_RECORDER_SECRET_ARN holds host, port, username, password, dbname (the rotation function's shape); TLS
is verified against PGSSLROOTCERT (the CA shipped in the package). A write that fails is logged and counted
(EMF metric OpsRecordWriteFailures) and the alert is still acknowledged: recording must never hold up or
replay the paging path. Environment: ENVIRONMENT (staging|production).
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import os
import re
import time
from datetime import UTC, datetime
from typing import Any

import boto3

try:
    import ops_record_core  # packaged next to this handler by tools/build_lambdas.py
except ModuleNotFoundError:  # in the repository: the one copy, tools/ops_record_core.py
    from tools import ops_record_core

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)

MAX_BODY_BYTES = 256 * 1024
SECRET_TTL_SECONDS = 300
SEVERITIES = ("critical", "warning", "info")
NAME_OK = re.compile(r"[^A-Za-z0-9_.:-]+")
_cache: dict[str, tuple[float, str]] = {}


def secret_string(arn: str) -> str:
    """A Secrets Manager value, cached for a few minutes (a rotation is picked up within that time)."""
    cached = _cache.get(arn)
    if cached and time.monotonic() - cached[0] < SECRET_TTL_SECONDS:
        return cached[1]
    value = boto3.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
    _cache[arn] = (time.monotonic(), value)
    return value


def recorder_url() -> str | None:
    try:
        return ops_record_core.url_from_secret(json.loads(secret_string(os.environ["OPS_RECORDER_SECRET_ARN"])))
    except Exception as error:  # noqa: BLE001 - no URL means the write fails, which record() logs and counts
        LOG.warning("ops record: cannot read the recorder secret: %s", type(error).__name__)
        return None


def alert_name(raw: str) -> str:
    name = NAME_OK.sub("-", raw or "").strip("-.:")
    if not name or not name[0].isalpha():
        name = "Alert-" + name
    return name[:100]


def parse_time(value: Any) -> datetime:
    if isinstance(value, str) and value and not value.startswith("0001-"):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except ValueError:
            pass
    return datetime.now(UTC)


def topic_severity(topic_arn: str) -> str:
    try:
        mapping = json.loads(os.environ.get("TOPIC_SEVERITIES") or "{}")
    except json.JSONDecodeError:
        mapping = {}
    if mapping.get(topic_arn) in SEVERITIES:
        return mapping[topic_arn]
    name = topic_arn.rsplit(":", 1)[-1]
    return "critical" if "critical" in name else "info" if "info" in name else "warning"


def record_sns(record: dict, environment: str, url: str | None) -> str:
    sns = record.get("Sns") or {}
    severity = topic_severity(sns.get("TopicArn", ""))
    try:
        message = json.loads(sns.get("Message") or "")
    except json.JSONDecodeError:
        message = None
    if not isinstance(message, dict) or "AlarmName" not in message:
        subject = sns.get("Subject") or "SNS notification"
        ok = ops_record_core.record(url, "alerts", {
            "environment": environment, "source": "cloudwatch", "name": alert_name(subject), "severity": severity,
            "summary": subject[:500], "fired_at": parse_time(sns.get("Timestamp"))})
        return "recorded" if ok else "failed"
    state = message.get("NewStateValue")
    vercel = message.get("Source") == "vercel"
    fingerprint = None if vercel else (message.get("AlarmArn") or f"alarm:{message['AlarmName']}")[:300]
    if state == "OK" and fingerprint:
        ok = ops_record_core.resolve_alert(url, environment, "cloudwatch", fingerprint,
                                           parse_time(message.get("StateChangeTime")))
        return "resolved" if ok else "failed"
    if state != "ALARM":
        return "ignored"
    summary = (message.get("NewStateReason") or message.get("AlarmDescription") or message["AlarmName"])[:500]
    row = {"environment": environment, "source": "vercel" if vercel else "cloudwatch",
           "name": alert_name(str(message["AlarmName"])), "severity": severity, "summary": summary,
           "fired_at": parse_time(message.get("StateChangeTime"))}
    if fingerprint:
        row["fingerprint"] = fingerprint
    return "recorded" if ops_record_core.record(url, "alerts", row) else "failed"


def http_response(status: int, message: str) -> dict:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"message": message})}


def authorized(event: dict) -> bool:
    headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
    supplied = headers.get("authorization") or ""
    if not supplied.startswith("Bearer ") or len(supplied) > 1024:
        return False
    try:
        expected = secret_string(os.environ["ALERTMANAGER_TOKEN_SECRET_ARN"]).strip()
    except Exception as error:  # noqa: BLE001 - cannot check the token: refuse
        LOG.error("cannot read the Alertmanager token secret: %s", type(error).__name__)
        return False
    return bool(expected) and hmac.compare_digest(supplied[len("Bearer "):].encode(), expected.encode())


def record_alertmanager(event: dict, environment: str) -> dict:
    if not authorized(event):
        LOG.warning("rejected a webhook without the Alertmanager bearer token")
        return http_response(401, "unauthorized")
    body = event.get("body") or ""
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    if len(raw) > MAX_BODY_BYTES:
        return http_response(413, "payload too large")
    try:
        payload = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return http_response(400, "body is not JSON")
    alerts = payload.get("alerts") if isinstance(payload, dict) else None
    if not isinstance(alerts, list):
        return http_response(400, "no alerts list (Alertmanager webhook payload version 4 expected)")
    ignored = {name.strip() for name in os.environ.get("IGNORED_ALERTS", "Watchdog").split(",") if name.strip()}
    url, outcome = recorder_url(), {"recorded": 0, "resolved": 0, "ignored": 0, "failed": 0}
    for alert in alerts:
        labels = alert.get("labels") if isinstance(alert, dict) else None
        if not isinstance(labels, dict) or labels.get("alertname") in ignored:
            outcome["ignored"] += 1
            continue
        fingerprint = str(alert.get("fingerprint") or "")[:300] or None
        if alert.get("status") == "resolved" and fingerprint:
            done = ops_record_core.resolve_alert(url, environment, "prometheus", fingerprint,
                                                 parse_time(alert.get("endsAt")))
            outcome["resolved" if done else "failed"] += 1
            continue
        annotations = alert.get("annotations") if isinstance(alert.get("annotations"), dict) else {}
        severity = labels.get("severity") if labels.get("severity") in SEVERITIES else "warning"
        row = {"environment": environment, "source": "prometheus", "name": alert_name(str(labels.get("alertname"))),
               "severity": severity, "fired_at": parse_time(alert.get("startsAt")),
               "summary": str(annotations.get("summary") or annotations.get("description")
                              or labels.get("alertname"))[:500]}
        if fingerprint:
            row["fingerprint"] = fingerprint
        outcome["recorded" if ops_record_core.record(url, "alerts", row) else "failed"] += 1
    LOG.info("alertmanager webhook: %s", outcome)
    return http_response(200, json.dumps(outcome))


def lambda_handler(event: dict, _context: Any = None) -> Any:
    environment = os.environ["ENVIRONMENT"]
    if isinstance(event.get("Records"), list) and event["Records"] and "Sns" in event["Records"][0]:
        url = recorder_url()
        outcomes = [record_sns(record, environment, url) for record in event["Records"]]
        LOG.info("sns: %s", outcomes)
        return {"outcomes": outcomes}
    method = ((event.get("requestContext") or {}).get("http") or {}).get("method", "POST")
    if method != "POST":
        return http_response(405, "POST only")
    return record_alertmanager(event, environment)
