"""Vercel alert forwarder: pages the critical route (SNS -> PagerDuty) when a Vercel alert rule fires.

Vercel can notify only Slack or an account webhook, so the production 5xx rule's webhook points at
this function's URL. The URL has no AWS auth (Vercel cannot sign AWS requests); this handler is the
gate instead: every request must carry `x-vercel-signature`, the hex HMAC-SHA1 of the raw body keyed
with the webhook's secret, compared in constant time.

- unsigned or wrongly signed: 403, nothing published
- signed but not JSON: 400
- signed `alerts.triggered` for another project than VERCEL_PROJECT_ID (when set): 202, ignored
- signed, any other event type: 202, ignored
- signed `alerts.triggered`: one message on CRITICAL_TOPIC_ARN, 200

The message is shaped like a CloudWatch alarm notification (AlarmName, NewStateValue=ALARM,
NewStateReason, ...) because the topic's PagerDuty subscriber is PagerDuty's CloudWatch
integration: that shape is what it turns into an incident, deduplicated on AlarmName.

The webhook secret comes from Secrets Manager (WEBHOOK_SECRET_ARN) and is cached for a few minutes
per container, so a recreated webhook's new secret is picked up without a redeploy. Neither the
secret nor the signature is ever logged or returned. AWS clients take their region and endpoints
from the environment (AWS_ENDPOINT_URL_*), which is also how the tests point them at moto.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3

LOG = logging.getLogger(__name__)
LOG.setLevel(logging.INFO)

SIGNATURE_HEADER = "x-vercel-signature"
ALERT_EVENT = "alerts.triggered"
SECRET_CACHE_SECONDS = 300.0
SNS_SUBJECT_LIMIT = 100  # SNS rejects longer subjects
UNKNOWN = "unknown"

# Vercel's reference documents the delivery envelope (`id`, `type`, `createdAt`, `payload`) but not the
# fields of an `alerts.triggered` payload, so each fact is looked up at the places it is known to sit in
# Vercel's payloads (`payload.project.id`, `payload.links.*`, ...) and in the alert object. A missing fact
# reads "unknown": an authentic alert pages even if its shape changed.
ALERT_NAME_PATHS = (("alert", "name"), ("alert", "title"), ("alertRule", "name"), ("rule", "name"), ("title",),
                    ("name",))
PROJECT_NAME_PATHS = (("project", "name"), ("alert", "projectName"), ("projectName",))
PROJECT_ID_PATHS = (("project", "id"), ("alert", "projectId"), ("projectId",))
SEVERITY_PATHS = (("alert", "severity"), ("alertRule", "severity"), ("severity",))
LINK_PATHS = (("links", "alert"), ("links", "observability"), ("links", "dashboard"), ("alert", "url"), ("url",),
              ("links", "project"))

_secret_cache: dict[str, tuple[float, bytes]] = {}


@dataclass(frozen=True)
class Settings:
    topic_arn: str
    secret_arn: str
    project_id: str | None  # only alerts about this Vercel project page; None forwards every signed alert

    @staticmethod
    def from_env(env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return Settings(topic_arn=env["CRITICAL_TOPIC_ARN"], secret_arn=env["WEBHOOK_SECRET_ARN"],
                        project_id=env.get("VERCEL_PROJECT_ID") or None)


@dataclass(frozen=True)
class AlertSummary:
    """What the on-call engineer needs first: which alert, where, how bad, and where to look."""

    name: str
    project: str
    severity: str
    link: str
    delivery_id: str
    created_at: str


def response(status: int, message: str) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"content-type": "application/json"},
            "body": json.dumps({"message": message})}


def webhook_secret(secret_arn: str, now: float | None = None) -> bytes:
    """The webhook's signing secret, from Secrets Manager, cached per container for SECRET_CACHE_SECONDS."""
    now = time.monotonic() if now is None else now
    cached = _secret_cache.get(secret_arn)
    if cached is not None and now - cached[0] < SECRET_CACHE_SECONDS:
        return cached[1]
    value = boto3.client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"].encode()
    _secret_cache[secret_arn] = (now, value)
    return value


def raw_body(event: Mapping[str, Any]) -> bytes | None:
    """The request body exactly as Vercel sent it (Function URLs base64-encode non-text bodies)."""
    body = event.get("body") or ""
    if not event.get("isBase64Encoded"):
        return body.encode()
    try:
        return base64.b64decode(body, validate=True)
    except binascii.Error:
        return None


def header(event: Mapping[str, Any], name: str) -> str | None:
    """A request header; Function URLs lower-case header names, but be lenient about case anyway."""
    headers = event.get("headers") or {}
    return next((value for key, value in headers.items() if key.lower() == name), None)


def signature_is_valid(body: bytes, signature: str | None, secret: bytes) -> bool:
    """x-vercel-signature is the hex HMAC-SHA1 of the raw body keyed with the webhook secret."""
    if not signature:
        return False
    expected = hmac.new(secret, body, hashlib.sha1).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.strip().lower().encode())


def _lookup(payload: Mapping[str, Any], paths: tuple[tuple[str, ...], ...]) -> str | None:
    for path in paths:
        value: Any = payload
        for key in path:
            value = value.get(key) if isinstance(value, Mapping) else None
        if isinstance(value, str | int | float) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
    return None


def summarize(delivery: Mapping[str, Any]) -> AlertSummary:
    payload = delivery.get("payload") if isinstance(delivery.get("payload"), Mapping) else {}
    link = _lookup(payload, LINK_PATHS)
    return AlertSummary(
        name=_lookup(payload, ALERT_NAME_PATHS) or "Vercel alert",
        project=_lookup(payload, PROJECT_NAME_PATHS) or _lookup(payload, PROJECT_ID_PATHS) or UNKNOWN,
        severity=_lookup(payload, SEVERITY_PATHS) or UNKNOWN,
        link=link if link and link.startswith("https://") else UNKNOWN,
        delivery_id=str(delivery.get("id") or UNKNOWN),
        created_at=str(delivery.get("createdAt") or UNKNOWN))


def alarm_message(summary: AlertSummary, region: str | None) -> tuple[str, str]:
    """(subject, message) in the CloudWatch alarm notification shape PagerDuty's integration reads."""
    alarm_name = f"vercel: {summary.name} ({summary.project})"
    reason = (f"Vercel alert '{summary.name}' fired on project {summary.project} "
              f"(severity {summary.severity}). Details: {summary.link}")
    message = {
        "AlarmName": alarm_name,
        "AlarmDescription": reason,
        "NewStateValue": "ALARM",
        "OldStateValue": "OK",
        "NewStateReason": reason,
        "StateChangeTime": summary.created_at,
        "Region": region or UNKNOWN,
        "Source": "vercel",
        "Vercel": {"alert": summary.name, "project": summary.project, "severity": summary.severity,
                   "link": summary.link, "deliveryId": summary.delivery_id},
    }
    subject = f"ALARM: {alarm_name}".replace("\n", " ")[:SNS_SUBJECT_LIMIT]
    return subject, json.dumps(message)


def _alert_project_id(delivery: Mapping[str, Any]) -> str | None:
    payload = delivery.get("payload")
    return _lookup(payload, PROJECT_ID_PATHS) if isinstance(payload, Mapping) else None


def forward(event: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    body = raw_body(event)
    if body is None or not signature_is_valid(body, header(event, SIGNATURE_HEADER),
                                              webhook_secret(settings.secret_arn)):
        LOG.warning("rejected a request without a valid %s", SIGNATURE_HEADER)
        return response(403, "forbidden")
    try:
        delivery = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        LOG.warning("rejected a signed request whose body is not JSON")
        return response(400, "body is not JSON")
    if not isinstance(delivery, dict):
        LOG.warning("rejected a signed request whose body is not a JSON object")
        return response(400, "body is not a JSON object")
    event_type = delivery.get("type")
    if event_type != ALERT_EVENT:
        LOG.info("ignored event type %r (delivery %s)", event_type, delivery.get("id"))
        return response(202, "ignored")
    project_id = _alert_project_id(delivery)
    if settings.project_id and project_id and project_id != settings.project_id:
        LOG.info("ignored an alert about another project (delivery %s)", delivery.get("id"))
        return response(202, "ignored")
    summary = summarize(delivery)
    subject, message = alarm_message(summary, os.environ.get("AWS_REGION"))
    boto3.client("sns").publish(TopicArn=settings.topic_arn, Subject=subject, Message=message)
    LOG.info("paged the critical route for alert %r on %s (delivery %s)", summary.name, summary.project,
             summary.delivery_id)
    return response(200, "forwarded")


def lambda_handler(event: Mapping[str, Any], _context: Any = None) -> dict[str, Any]:
    method = ((event.get("requestContext") or {}).get("http") or {}).get("method", "POST")
    if method != "POST":
        return response(405, "POST only")
    return forward(event, Settings.from_env())
