"""Backup monitor: reads Supabase's backup list and publishes CloudWatch metrics, hourly.

Metrics (namespace from METRIC_NAMESPACE, dimension Environment):

- HoursSinceLastCompletedBackup: hours since the newest COMPLETED backup (or, with
  point-in-time recovery on, the newest physical backup point). With no completed backup at
  all it reports NO_BACKUP_HOURS, which is above any sane threshold. A backup dated more than
  FUTURE_TOLERANCE in the future does not count as fresh: it is left out of this metric.
- FutureDatedBackups: backups (and a PITR point) dated more than FUTURE_TOLERANCE ahead of
  now: a clock or API anomaly that would otherwise hide staleness.
- FailedBackups: FAILED backups started in the last 24 hours.
- PitrEnabled: 1 when point-in-time recovery is on, else 0.

The CloudWatch alarms (components/backups/) page on these, and on their absence: if this
function stops running, the metrics go missing and the missing-data rule breaches. An API
error, or an answer that is not the documented backup list (a field missing or of the wrong
type, a timestamp that does not parse), is raised as BackupApiError naming the field, before
anything is published, so the invocation fails (and the Lambda Errors alarm fires).

The access token never reaches a log line or an exception message: an error names the HTTP
status and only the API's own `message`, cut short, with the token and anything shaped like a
credential taken out; redirects are refused (urllib would send the Authorization header to
wherever the API redirects). Plain http is allowed only to this machine (the tests' local
API), decided by parsing the URL and comparing its host exactly, not by a prefix.

Every run is also recorded in `ops.backup_checks` (the backup dashboard): `passed` when the newest
completed backup is at most MAX_BACKUP_AGE_HOURS old, none failed in the last day, none is dated in the
future and PITR is on where REQUIRE_PITR says so; else `failed` with the findings; an unreadable backup
list is a failed check too (and the run still raises). It writes as the ops recorder login through
`ops_record_core.py` (tools/ops_record_core.py, packaged next to it by tools/build_lambdas.py), its
credential the secret at OPS_RECORDER_SECRET_ARN, TLS verified against PGSSLROOTCERT. A write that fails
is logged and counted (EMF metric OpsRecordWriteFailures) and never fails the run. Without
OPS_RECORDER_SECRET_ARN nothing is recorded.

Why not `requests`: one GET with urllib needs no dependency beyond boto3 (which the runtime provides);
the package carries pg8000 for the ops record only.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

try:
    import ops_record_core  # packaged next to this handler by tools/build_lambdas.py
except ModuleNotFoundError:  # in the repository: the one copy, tools/ops_record_core.py
    from tools import ops_record_core

try:  # packaged next to this file (tools/build_lambdas.py); tests load the handler by path
    from dump_age import hours_since_newest_dump
except ModuleNotFoundError:  # pragma: no cover - only when loaded by path without its folder on sys.path
    import importlib.util
    import sys

    _spec = importlib.util.spec_from_file_location("dump_age", os.path.join(os.path.dirname(__file__), "dump_age.py"))
    _dump_age = importlib.util.module_from_spec(_spec)
    sys.modules["dump_age"] = _dump_age
    _spec.loader.exec_module(_dump_age)
    hours_since_newest_dump = _dump_age.hours_since_newest_dump

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)

NO_BACKUP_HOURS = 100_000.0
FAILED_WINDOW = timedelta(hours=24)
FUTURE_TOLERANCE = timedelta(minutes=5)  # clock skew between Supabase and AWS
HTTP_TIMEOUT_SECONDS = 20
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
MESSAGE_LIMIT = 200
REDACTED = "[redacted]"
# Credential shapes an echoing server may put in a message: bearer/basic values, Supabase access
# tokens (sbp_...), JWTs (service keys), and key=value pairs named like secrets.
CREDENTIAL_PATTERNS = (
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 " + REDACTED),
    (re.compile(r"\bsbp_[A-Za-z0-9]+"), REDACTED),
    (re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), REDACTED),
    (re.compile(r"(?i)\b(authorization|apikey|api[_-]?key|token|secret|password)([\"']?\s*[:=]\s*[\"']?)[^\s,;\"'}]+"),
     r"\1\2" + REDACTED),
)


class BackupApiError(RuntimeError):
    """The Management API did not answer with a backup list."""


@dataclass(frozen=True)
class Settings:
    environment: str
    project_ref: str
    api_url: str
    token_secret_arn: str
    metric_namespace: str

    @staticmethod
    def from_env(env: dict[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return Settings(
            environment=env["ENVIRONMENT"],
            project_ref=env["SUPABASE_PROJECT_REF"],
            api_url=_checked_api_url(env.get("SUPABASE_API_URL", "https://api.supabase.com")),
            token_secret_arn=env["ACCESS_TOKEN_SECRET_ARN"],
            metric_namespace=env.get("METRIC_NAMESPACE", "Kingtavo/Backups"),
        )


def _checked_api_url(url: str) -> str:
    """The API base URL, rebuilt from its parsed parts: https to any host, plain http only to this machine.

    The host is compared exactly after parsing, so `http://localhost.attacker.example`,
    `http://localhost@attacker.example/` and `http://127.0.0.1.nip.io` are refused. User info,
    a query, a fragment, whitespace and control characters are refused too.
    """
    problem = url_problem(url)
    if problem:
        raise ValueError(f"SUPABASE_API_URL {problem}")
    parts = urllib.parse.urlsplit(url)
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
    port = f":{parts.port}" if parts.port is not None else ""
    return f"{parts.scheme}://{host}{port}{parts.path.rstrip('/')}"


def url_problem(url: str) -> str | None:
    """Why `url` may not receive the access token (None when it may): https anywhere, http only to localhost."""
    if not isinstance(url, str) or not url or any(c.isspace() or not c.isprintable() for c in url):
        return "must be a URL without whitespace or control characters"
    parts = urllib.parse.urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number in range
    except ValueError:
        return "has an invalid port"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return f"must be an https:// URL, got scheme {parts.scheme or '(none)'!r}"
    if "@" in parts.netloc or "\\" in url:
        return "must not carry user info"
    if parts.query or parts.fragment:
        return "must not carry a query or a fragment"
    if parts.scheme == "http" and parts.hostname not in LOCAL_HOSTS:
        return f"must be an https:// URL (plain http only to localhost), got host {parts.hostname!r}"
    return None


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """`text` without the given secret values, credential-shaped strings and control characters, cut short."""
    for value in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(value, REDACTED)
    for pattern, replacement in CREDENTIAL_PATTERNS:
        text = pattern.sub(replacement, text)
    text = "".join(c if c.isprintable() else " " for c in text)
    return text if len(text) <= MESSAGE_LIMIT else text[:MESSAGE_LIMIT] + "..."


def api_message(body: bytes, secrets: tuple[str, ...] = ()) -> str:
    """The API's own `message` (or `error`/`msg`) from a JSON error body, redacted; never the raw body."""
    try:
        document = json.loads(body.decode("utf-8", "replace"))
    except (json.JSONDecodeError, RecursionError):
        document = None
    if isinstance(document, dict):
        for key in ("message", "error", "msg"):
            if isinstance(document.get(key), str):
                return redact(document[key], secrets)
    return f"(no message; {len(body)} bytes of body not shown)"


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """urllib copies the Authorization header onto a redirect, to any host and over plain http: refuse them."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ARG002 - urllib's signature
        raise urllib.error.HTTPError(req.full_url, code, "redirect refused", headers, fp)


_OPENER = urllib.request.build_opener(_RefuseRedirects)


def fetch_backups(settings: Settings, token: str) -> dict:
    """GET /v1/projects/{ref}/database/backups; raises BackupApiError with the status and API message."""
    where = f"backup list for project {settings.project_ref}"
    problem = url_problem(settings.api_url)
    if problem:
        raise BackupApiError(f"{where}: refusing to send the access token: the API URL {problem}")
    url = f"{settings.api_url}/v1/projects/{urllib.parse.quote(settings.project_ref, safe='')}/database/backups"
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - scheme and host checked above
    try:
        with _OPENER.open(request, timeout=HTTP_TIMEOUT_SECONDS) as response:
            body = response.read()
    except urllib.error.HTTPError as error:
        if 300 <= error.code < 400:
            raise BackupApiError(f"{where}: HTTP {error.code}: redirect refused") from None
        raise BackupApiError(f"{where}: HTTP {error.code}: {api_message(error.read(), (token,))}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        reason = getattr(error, "reason", None) or type(error).__name__
        raise BackupApiError(f"{where}: unreachable: {redact(str(reason), (token,))}") from None
    try:
        document = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise BackupApiError(f"{where}: not JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("backups"), list):
        raise BackupApiError(f"{where}: no 'backups' list in the answer")
    return document


def _field_error(field: str, expected: str, value: Any) -> BackupApiError:
    shown = redact(repr(value))[:60]
    return BackupApiError(f"backup list: {field}: expected {expected}, got {shown}")


def _parse_time(value: Any, field: str) -> datetime:
    if not isinstance(value, str):
        raise _field_error(field, "an ISO 8601 timestamp", value)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _field_error(field, "an ISO 8601 timestamp", value) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _unix_time(value: Any, field: str) -> datetime:
    number = value
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            raise _field_error(field, "seconds since the epoch", value) from None
    if isinstance(number, bool) or not isinstance(number, int | float) or not math.isfinite(number):
        raise _field_error(field, "seconds since the epoch", value)
    try:
        return datetime.fromtimestamp(float(number), tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise _field_error(field, "seconds since the epoch", value) from None


def backup_points(document: dict) -> tuple[list[tuple[str, datetime]], bool, datetime | None]:
    """(status, started) per backup, PITR on or off, and the newest PITR point; BackupApiError on a bad shape."""
    backups = document.get("backups")
    if not isinstance(backups, list):
        raise _field_error("backups", "a list", backups)
    points = []
    for index, backup in enumerate(backups):
        if not isinstance(backup, dict):
            raise _field_error(f"backups[{index}]", "an object", backup)
        status = backup.get("status")
        if not isinstance(status, str):
            raise _field_error(f"backups[{index}].status", "a string", status)
        points.append((status, _parse_time(backup.get("inserted_at"), f"backups[{index}].inserted_at")))
    pitr = document.get("pitr_enabled", False)
    if not isinstance(pitr, bool):
        raise _field_error("pitr_enabled", "true or false", pitr)
    physical_data = document.get("physical_backup_data")
    if physical_data is not None and not isinstance(physical_data, dict):
        raise _field_error("physical_backup_data", "an object", physical_data)
    latest = (physical_data or {}).get("latest_physical_backup_date_unix")
    physical = None if latest is None else _unix_time(
        latest, "physical_backup_data.latest_physical_backup_date_unix")
    return points, pitr, physical


def compute_metrics(document: dict, now: datetime) -> dict[str, float]:
    """The metrics from one backup-list answer, as of `now`; BackupApiError when the answer is malformed."""
    points, pitr, physical = backup_points(document)
    completed = [started for status, started in points if status == "COMPLETED"]
    if pitr and physical is not None:
        completed.append(physical)
    future = [started for started in completed if started - now > FUTURE_TOLERANCE]
    if future:
        LOG.warning(json.dumps({"anomaly": "backup dated in the future", "count": len(future),
                                "newest": max(future).isoformat(), "now": now.isoformat()}))
    newest = max((started for started in completed if started - now <= FUTURE_TOLERANCE), default=None)
    hours = NO_BACKUP_HOURS if newest is None else max(0.0, (now - newest).total_seconds() / 3600)
    failed = sum(1 for status, started in points
                 if status == "FAILED" and now - started <= FAILED_WINDOW)
    return {
        "HoursSinceLastCompletedBackup": round(hours, 3),
        "FailedBackups": float(failed),
        "PitrEnabled": 1.0 if pitr else 0.0,
        "FutureDatedBackups": float(len(future)),
    }


def publish(cloudwatch, settings: Settings, metrics: dict[str, float], now: datetime) -> None:
    cloudwatch.put_metric_data(
        Namespace=settings.metric_namespace,
        MetricData=[{"MetricName": name, "Dimensions": [{"Name": "Environment", "Value": settings.environment}],
                     "Timestamp": now, "Value": value, "Unit": "None"} for name, value in metrics.items()],
    )


def read_token(secrets_manager, arn: str) -> str:
    return secrets_manager.get_secret_value(SecretId=arn)["SecretString"]


def newest_backup(document: dict, now: datetime) -> tuple[str, datetime] | None:
    """(reference, taken at) of the newest completed backup (or PITR point) not dated in the future."""
    candidates = [(f"backup:{backup.get('id')}", _parse_time(backup.get("inserted_at"), "inserted_at"))
                  for backup in document.get("backups", [])
                  if isinstance(backup, dict) and backup.get("status") == "COMPLETED"]
    _, pitr, physical = backup_points(document)
    if pitr and physical is not None:
        candidates.append((f"pitr:{physical.isoformat()}", physical))
    fresh = [item for item in candidates if item[1] - now <= FUTURE_TOLERANCE]
    return max(fresh, key=lambda item: item[1], default=None)


def check_row(environment: str, document: dict, metrics: dict[str, float], now: datetime,
              env: dict[str, str] | None = None) -> dict[str, Any]:
    """The ops.backup_checks row for this run's metrics (thresholds from MAX_BACKUP_AGE_HOURS, REQUIRE_PITR)."""
    env = os.environ if env is None else env
    max_age = float(env.get("MAX_BACKUP_AGE_HOURS") or 26)
    findings = []
    newest = newest_backup(document, now)
    if newest is None:
        findings.append("no completed backup")
    elif metrics["HoursSinceLastCompletedBackup"] > max_age:
        findings.append(f"the newest completed backup is {metrics['HoursSinceLastCompletedBackup']:.1f} hours old "
                        f"(more than {max_age:g})")
    if metrics["FailedBackups"]:
        findings.append(f"{int(metrics['FailedBackups'])} backup(s) failed in the last 24 hours")
    if metrics["FutureDatedBackups"]:
        findings.append(f"{int(metrics['FutureDatedBackups'])} backup(s) dated in the future")
    if env.get("REQUIRE_PITR", "false") == "true" and not metrics["PitrEnabled"]:
        findings.append("point-in-time recovery is off")
    row: dict[str, Any] = {"environment": environment, "checked_at": now, "findings": findings,
                           "result": "failed" if findings else "passed"}
    if newest is not None:
        row["backup_reference"], row["backup_taken_at"] = newest[0][:500], min(newest[1], now)
    return row


def record_check(session, settings: Settings, row: dict[str, Any]) -> bool:
    """Write the check to ops.backup_checks; False (logged, metric emitted) when it could not be written."""
    arn = os.environ.get("OPS_RECORDER_SECRET_ARN")
    if not arn:
        return False
    try:
        secret = json.loads(session.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"])
        url = ops_record_core.url_from_secret(secret)
    except Exception as error:  # noqa: BLE001 - never fail the monitor for its record
        LOG.warning("ops record: cannot read the recorder secret: %s", type(error).__name__)
        ops_record_core.emit_failure_metric("backup_checks")
        return False
    return ops_record_core.record(url, "backup_checks", row)


def lambda_handler(event, context, *, now: datetime | None = None, session=None) -> dict[str, float]:
    settings = Settings.from_env()
    session = session or boto3.session.Session()
    now = now or datetime.now(UTC)
    token = read_token(session.client("secretsmanager"), settings.token_secret_arn)
    try:
        document = fetch_backups(settings, token)
        metrics = compute_metrics(document, now)
    except BackupApiError as error:
        record_check(session, settings, {"environment": settings.environment, "checked_at": now,
                                         "result": "failed", "findings": [f"backup list unreadable: {error}"[:500]]})
        raise
    # the archive side: the newest nightly dump (an S3 error fails the run, so its Errors alarm fires)
    metrics["HoursSinceNewestDump"] = hours_since_newest_dump(session.client("s3"), os.environ["BACKUP_BUCKET"], now)
    publish(session.client("cloudwatch"), settings, metrics, now)  # the alarms' input first, then the record
    record_check(session, settings, check_row(settings.environment, document, metrics, now))
    LOG.info(json.dumps({"environment": settings.environment, "project": settings.project_ref, **metrics}))
    return metrics
