"""Vercel alert forwarder: pages the critical route (SNS -> PagerDuty) when a Vercel alert rule fires.

Vercel can notify only Slack or an account webhook, so the production 5xx rule's webhook points at
this function's URL. The URL has no AWS auth (Vercel cannot sign AWS requests); this handler is the
gate instead: every request must carry `x-vercel-signature`, the hex HMAC-SHA1 of the raw body keyed
with the webhook's secret, compared in constant time.

The order of the checks is the point, because the URL is public and the function's concurrency is
reserved and small: what an unauthenticated caller can make it do must cost next to nothing.

1. not POST: 405. No `x-vercel-signature` of the right shape (40 hex digits): 403, before any AWS
   call (not even the secret is fetched), so a flood of unsigned requests ends in microseconds.
2. wrong signature (the secret comes from Secrets Manager, cached per container): 403.
3. signed but not a JSON object: 400.
4. signed, but `id` or `createdAt` missing, or `createdAt` outside the window (older than
   MAX_DELIVERY_AGE_SECONDS, default 1 hour, or more than MAX_CLOCK_SKEW_SECONDS, default 5 minutes,
   in the future): 400. A captured delivery cannot be replayed later.
5. signed, another event type than `alerts.triggered`: 202, ignored.
6. signed alert for a project that is not one of the production project ids (VERCEL_PROJECT_IDS,
   comma-separated; VERCEL_PROJECT_ID is read when it is unset), or with no project id at all: 202,
   ignored. The webhook is account-wide, so only the configured projects page.
7. a delivery id already seen (DynamoDB table DELIVERY_TABLE_NAME, conditional put): 200, duplicate.
8. otherwise: one message on CRITICAL_TOPIC_ARN, 200.

Idempotency: each delivery id is claimed with a conditional put before publishing, kept for the
window plus a day (attribute `expiresAt`, the table's TTL attribute), and marked `published` after.
A publish that fails releases the claim and fails the invocation, so Vercel's retry pages; a claim
left by an invocation that died is taken over after CLAIM_LEASE_SECONDS. If the table itself cannot
be reached, the alert pages anyway (a duplicate page is better than a lost one).

The message is shaped like a CloudWatch alarm notification (AlarmName, NewStateValue=ALARM,
NewStateReason, ...) because the topic's PagerDuty subscriber is PagerDuty's CloudWatch
integration. Every field taken from the alert is cut to a fixed length, so the message stays far
below SNS's 256 KiB limit; the subject is printable ASCII under 100 characters (SNS refuses
others), and if SNS still refuses it the message is published without a subject.

Neither the secret nor the signature is ever logged or returned. AWS clients take their region and
endpoints from the environment (AWS_ENDPOINT_URL_*), which is also how the tests point them at moto.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import re
import time
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

LOG = logging.getLogger(__name__)
LOG.setLevel(logging.INFO)

SIGNATURE_HEADER = "x-vercel-signature"
SIGNATURE_SHAPE = re.compile(r"^[0-9a-fA-F]{40}$")  # hex HMAC-SHA1
ALERT_EVENT = "alerts.triggered"
SECRET_CACHE_SECONDS = 300.0
DEFAULT_MAX_AGE_SECONDS = 3600
DEFAULT_MAX_SKEW_SECONDS = 300
TTL_MARGIN_SECONDS = 86400  # delivery ids are kept this long past the window
CLAIM_LEASE_SECONDS = 60  # longer than the function's timeout: a claim older than this was abandoned
SNS_SUBJECT_MAX_CHARS = 99  # SNS: "less than 100 characters", ASCII, no control characters
SNS_MESSAGE_LIMIT_BYTES = 262_144  # SNS: 256 KiB
FIELD_LIMITS = {"name": 200, "project": 100, "severity": 32, "link": 1000, "delivery_id": 128, "created_at": 40}
MAX_DELIVERY_ID_CHARS = 256
UNKNOWN = "unknown"
ELLIPSIS = "…"

# Vercel's reference documents the delivery envelope (`id`, `type`, `createdAt`, `payload`) but not the
# fields of an `alerts.triggered` payload, so each fact is looked up at the places it is known to sit in
# Vercel's payloads (`payload.project.id`, `payload.links.*`, ...) and in the alert object. A missing fact
# reads "unknown": an authentic alert pages even if its shape changed (but only with a production project id).
ALERT_NAME_PATHS = (("alert", "name"), ("alert", "title"), ("alertRule", "name"), ("rule", "name"), ("title",),
                    ("name",))
PROJECT_NAME_PATHS = (("project", "name"), ("alert", "projectName"), ("projectName",))
PROJECT_ID_PATHS = (("project", "id"), ("alert", "projectId"), ("projectId",))
SEVERITY_PATHS = (("alert", "severity"), ("alertRule", "severity"), ("severity",))
LINK_PATHS = (("links", "alert"), ("links", "observability"), ("links", "dashboard"), ("alert", "url"), ("url",),
              ("links", "project"))

_secret_cache: dict[str, tuple[float, bytes]] = {}


class ConfigurationError(RuntimeError):
    """An environment variable the function needs is missing or invalid; the message names it."""


def _env_seconds(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name) or str(default)
    if not raw.isdigit() or int(raw) <= 0:
        raise ConfigurationError(f"{name} must be a positive whole number of seconds, got {raw!r}")
    return int(raw)


@dataclass(frozen=True)
class Settings:
    topic_arn: str
    secret_arn: str
    table_name: str
    project_ids: frozenset[str]  # only alerts about these Vercel projects page
    max_age_seconds: int = DEFAULT_MAX_AGE_SECONDS
    max_skew_seconds: int = DEFAULT_MAX_SKEW_SECONDS

    @staticmethod
    def from_env(env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        missing = [name for name in ("CRITICAL_TOPIC_ARN", "WEBHOOK_SECRET_ARN", "DELIVERY_TABLE_NAME")
                   if not env.get(name)]
        if missing:
            raise ConfigurationError(f"missing environment variable(s): {', '.join(missing)}")
        ids_text = env.get("VERCEL_PROJECT_IDS") or env.get("VERCEL_PROJECT_ID") or ""
        project_ids = frozenset(part.strip() for part in ids_text.split(",") if part.strip())
        if not project_ids:
            raise ConfigurationError("VERCEL_PROJECT_IDS must list the production Vercel project id(s), "
                                     "comma-separated")
        return Settings(topic_arn=env["CRITICAL_TOPIC_ARN"], secret_arn=env["WEBHOOK_SECRET_ARN"],
                        table_name=env["DELIVERY_TABLE_NAME"], project_ids=project_ids,
                        max_age_seconds=_env_seconds(env, "MAX_DELIVERY_AGE_SECONDS", DEFAULT_MAX_AGE_SECONDS),
                        max_skew_seconds=_env_seconds(env, "MAX_CLOCK_SKEW_SECONDS", DEFAULT_MAX_SKEW_SECONDS))

    @property
    def ttl_seconds(self) -> int:
        return self.max_age_seconds + self.max_skew_seconds + TTL_MARGIN_SECONDS


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


def has_signature_shape(signature: str | None) -> bool:
    """Whether the header can be a hex HMAC-SHA1 at all: checked before any work, the secret included."""
    return isinstance(signature, str) and SIGNATURE_SHAPE.match(signature.strip()) is not None


def signature_is_valid(body: bytes, signature: str | None, secret: bytes) -> bool:
    """x-vercel-signature is the hex HMAC-SHA1 of the raw body keyed with the webhook secret."""
    if not has_signature_shape(signature):
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


def bounded(text: str, limit: int) -> str:
    """`text` without control characters, cut to `limit` characters (the cut marked with an ellipsis)."""
    text = "".join(" " if unicodedata.category(char)[0] == "C" else char for char in text)
    return text if len(text) <= limit else text[:limit - 1] + ELLIPSIS


def summarize(delivery: Mapping[str, Any]) -> AlertSummary:
    payload = delivery.get("payload") if isinstance(delivery.get("payload"), Mapping) else {}
    link = _lookup(payload, LINK_PATHS)
    facts = {
        "name": _lookup(payload, ALERT_NAME_PATHS) or "Vercel alert",
        "project": _lookup(payload, PROJECT_NAME_PATHS) or _lookup(payload, PROJECT_ID_PATHS) or UNKNOWN,
        "severity": _lookup(payload, SEVERITY_PATHS) or UNKNOWN,
        # a link cut short would point nowhere: one too long for the message reads "unknown"
        "link": link if link and link.startswith("https://") and len(link) <= FIELD_LIMITS["link"] else UNKNOWN,
        "delivery_id": str(delivery.get("id") or UNKNOWN),
        "created_at": str(delivery.get("createdAt") or UNKNOWN),
    }
    return AlertSummary(**{key: bounded(value, FIELD_LIMITS[key]) for key, value in facts.items()})


def subject_text(text: str) -> str:
    """An SNS subject: printable ASCII (accents folded, the rest dropped), at most 99 characters."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    printable = re.sub(r"\s+", " ", "".join(c if c.isprintable() else " " for c in folded)).strip()
    if len(printable) > SNS_SUBJECT_MAX_CHARS:
        printable = printable[:SNS_SUBJECT_MAX_CHARS - 3].rstrip() + "..."
    return printable or "ALARM: vercel alert"


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
    text = json.dumps(message)
    if len(text.encode()) > SNS_MESSAGE_LIMIT_BYTES:  # cannot happen with FIELD_LIMITS; never risk the page
        text = json.dumps({key: message[key] for key in ("AlarmName", "NewStateValue", "OldStateValue", "Source")})
    return subject_text(f"ALARM: {alarm_name}"), text


def _alert_project_id(delivery: Mapping[str, Any]) -> str | None:
    payload = delivery.get("payload")
    return _lookup(payload, PROJECT_ID_PATHS) if isinstance(payload, Mapping) else None


def created_at_seconds(value: Any) -> float | None:
    """Vercel's `createdAt` (milliseconds since the epoch; an ISO 8601 string is accepted too), in seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value == value and abs(value) < 1e15:
        return float(value) / 1000
    if isinstance(value, str) and len(value) <= 40:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed.timestamp() if parsed.tzinfo else None
    return None


def delivery_problem(delivery: Mapping[str, Any], settings: Settings, now: float) -> str | None:
    """Why a signed delivery is refused (missing id, missing or out-of-window createdAt), or None."""
    delivery_id = delivery.get("id")
    if not isinstance(delivery_id, str) or not delivery_id.strip() or len(delivery_id) > MAX_DELIVERY_ID_CHARS:
        return f"id must be a non-empty string of at most {MAX_DELIVERY_ID_CHARS} characters"
    created = created_at_seconds(delivery.get("createdAt"))
    if created is None:
        return "createdAt must be the delivery time in milliseconds since the epoch"
    if now - created > settings.max_age_seconds:
        return f"createdAt is more than {settings.max_age_seconds} seconds old"
    if created - now > settings.max_skew_seconds:
        return f"createdAt is more than {settings.max_skew_seconds} seconds in the future"
    return None


# --- idempotency ---------------------------------------------------------------------------------------------


def claim_delivery(settings: Settings, delivery_id: str, now: float) -> bool | None:
    """Claim the delivery id: True when claimed now, False when already seen, None when the store failed."""
    try:
        boto3.client("dynamodb").put_item(
            TableName=settings.table_name,
            Item={"deliveryId": {"S": delivery_id}, "status": {"S": "claimed"},
                  "claimedAt": {"N": str(int(now))}, "expiresAt": {"N": str(int(now) + settings.ttl_seconds)}},
            ConditionExpression="attribute_not_exists(deliveryId) OR (#status = :claimed AND claimedAt < :stale)",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":claimed": {"S": "claimed"},
                                       ":stale": {"N": str(int(now) - CLAIM_LEASE_SECONDS)}})
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        LOG.warning("the delivery table %s failed (%s): paging without the duplicate check",
                    settings.table_name, error.response.get("Error", {}).get("Code"))
        return None
    except BotoCoreError as error:
        LOG.warning("the delivery table %s failed (%s): paging without the duplicate check",
                    settings.table_name, type(error).__name__)
        return None
    return True


def _settle_claim(settings: Settings, delivery_id: str, published: bool) -> None:
    """After publishing, mark the claim `published`; after a failed publish, release it for the retry."""
    key = {"deliveryId": {"S": delivery_id}}
    try:
        client = boto3.client("dynamodb")
        if published:
            client.update_item(TableName=settings.table_name, Key=key, UpdateExpression="SET #status = :published",
                               ExpressionAttributeNames={"#status": "status"},
                               ExpressionAttributeValues={":published": {"S": "published"}})
        else:
            client.delete_item(TableName=settings.table_name, Key=key, ConditionExpression="#status = :claimed",
                               ExpressionAttributeNames={"#status": "status"},
                               ExpressionAttributeValues={":claimed": {"S": "claimed"}})
    except (ClientError, BotoCoreError) as error:
        LOG.warning("could not settle the claim of delivery %s: %s", delivery_id, type(error).__name__)


def publish(settings: Settings, subject: str, message: str) -> None:
    """Publish the page; if SNS refuses the subject, publish without one rather than lose the page."""
    sns = boto3.client("sns")
    try:
        sns.publish(TopicArn=settings.topic_arn, Subject=subject, Message=message)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("InvalidParameter", "InvalidParameterValue"):
            raise
        LOG.warning("SNS refused the subject; publishing the page without one")
        sns.publish(TopicArn=settings.topic_arn, Message=message)


# --- the request ---------------------------------------------------------------------------------------------


def forward(event: Mapping[str, Any], settings: Settings, now: float | None = None) -> dict[str, Any]:
    signature = header(event, SIGNATURE_HEADER)
    body = raw_body(event) if has_signature_shape(signature) else None
    if body is None or not signature_is_valid(body, signature, webhook_secret(settings.secret_arn)):
        LOG.warning("rejected a request without a valid %s", SIGNATURE_HEADER)
        return response(403, "forbidden")
    try:
        delivery = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        LOG.warning("rejected a signed request whose body is not JSON")
        return response(400, "body is not JSON")
    if not isinstance(delivery, dict):
        LOG.warning("rejected a signed request whose body is not a JSON object")
        return response(400, "body is not a JSON object")
    now = time.time() if now is None else now
    problem = delivery_problem(delivery, settings, now)
    if problem:
        LOG.warning("rejected a signed delivery: %s", problem)
        return response(400, problem)
    delivery_id = delivery["id"]
    event_type = delivery.get("type")
    if event_type != ALERT_EVENT:
        LOG.info("ignored event type %r (delivery %s)", bounded(str(event_type), 64), delivery_id)
        return response(202, "ignored")
    project_id = _alert_project_id(delivery)
    if project_id not in settings.project_ids:
        LOG.log(logging.WARNING if project_id is None else logging.INFO,
                "ignored an alert %s (delivery %s)",
                "without a project id" if project_id is None else "about another project", delivery_id)
        return response(202, "ignored")
    claimed = claim_delivery(settings, delivery_id, now)
    if claimed is False:
        LOG.info("delivery %s was already forwarded: not paging again", delivery_id)
        return response(200, "duplicate")
    summary = summarize(delivery)
    subject, message = alarm_message(summary, os.environ.get("AWS_REGION"))
    try:
        publish(settings, subject, message)
    except Exception:
        if claimed:
            _settle_claim(settings, delivery_id, published=False)
        raise  # the invocation fails: Vercel retries, the Errors alarm warns
    if claimed:
        _settle_claim(settings, delivery_id, published=True)
    LOG.info("paged the critical route for alert %r on %s (delivery %s)", summary.name, summary.project,
             summary.delivery_id)
    return response(200, "forwarded")


def lambda_handler(event: Mapping[str, Any], _context: Any = None) -> dict[str, Any]:
    method = ((event.get("requestContext") or {}).get("http") or {}).get("method", "POST")
    if method != "POST":
        return response(405, "POST only")
    if not has_signature_shape(header(event, SIGNATURE_HEADER)):
        LOG.warning("rejected a request without a valid %s", SIGNATURE_HEADER)
        return response(403, "forbidden")
    return forward(event, Settings.from_env())
