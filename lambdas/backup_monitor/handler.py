"""Backup monitor: reads Supabase's backup list and publishes CloudWatch metrics, hourly.

Metrics (namespace from METRIC_NAMESPACE, dimension Environment):

- HoursSinceLastCompletedBackup: hours since the newest COMPLETED backup (or, with
  point-in-time recovery on, the newest physical backup point). With no completed backup at
  all it reports NO_BACKUP_HOURS, which is above any sane threshold.
- FailedBackups: FAILED backups started in the last 24 hours.
- PitrEnabled: 1 when point-in-time recovery is on, else 0.

The CloudWatch alarms (components/backups/) page on these, and on their absence: if this
function stops running, the metrics go missing and the missing-data rule breaches. An API
error is raised, not swallowed, so the invocation fails (and the Lambda Errors alarm fires);
the access token never reaches a log line or an exception message.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import boto3

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)

NO_BACKUP_HOURS = 100_000.0
FAILED_WINDOW = timedelta(hours=24)
HTTP_TIMEOUT_SECONDS = 20


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
    """https only, except plain http to this machine (the tests' local API)."""
    if not (url.startswith("https://") or url.startswith(("http://127.0.0.1", "http://localhost"))):
        raise ValueError(f"SUPABASE_API_URL must be an https:// URL, got {url!r}")
    return url.rstrip("/")


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def fetch_backups(settings: Settings, token: str) -> dict:
    """GET /v1/projects/{ref}/database/backups; raises BackupApiError with the status and API message."""
    url = f"{settings.api_url}/v1/projects/{settings.project_ref}/database/backups"
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - scheme checked in Settings
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as response:  # noqa: S310 - scheme checked in Settings
            body = response.read()
    except urllib.error.HTTPError as error:
        detail = error.read()[:300].decode("utf-8", "replace")
        raise BackupApiError(f"backup list for project {settings.project_ref}: HTTP {error.code}: {detail}") from None
    except urllib.error.URLError as error:
        raise BackupApiError(f"backup list for project {settings.project_ref}: {error.reason}") from None
    try:
        document = json.loads(body)
    except json.JSONDecodeError:
        raise BackupApiError(f"backup list for project {settings.project_ref}: not JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("backups"), list):
        raise BackupApiError(f"backup list for project {settings.project_ref}: no 'backups' list in the answer")
    return document


def compute_metrics(document: dict, now: datetime) -> dict[str, float]:
    """The three metrics from one backup-list answer, as of `now`."""
    completed = [_parse_time(b["inserted_at"]) for b in document["backups"] if b.get("status") == "COMPLETED"]
    physical = (document.get("physical_backup_data") or {}).get("latest_physical_backup_date_unix")
    if document.get("pitr_enabled") and physical:
        completed.append(datetime.fromtimestamp(float(physical), tz=UTC))
    newest = max(completed, default=None)
    hours = NO_BACKUP_HOURS if newest is None else max(0.0, (now - newest).total_seconds() / 3600)
    failed = sum(1 for b in document["backups"]
                 if b.get("status") == "FAILED" and now - _parse_time(b["inserted_at"]) <= FAILED_WINDOW)
    return {
        "HoursSinceLastCompletedBackup": round(hours, 3),
        "FailedBackups": float(failed),
        "PitrEnabled": 1.0 if document.get("pitr_enabled") else 0.0,
    }


def publish(cloudwatch, settings: Settings, metrics: dict[str, float], now: datetime) -> None:
    cloudwatch.put_metric_data(
        Namespace=settings.metric_namespace,
        MetricData=[{"MetricName": name, "Dimensions": [{"Name": "Environment", "Value": settings.environment}],
                     "Timestamp": now, "Value": value, "Unit": "None"} for name, value in metrics.items()],
    )


def read_token(secrets_manager, arn: str) -> str:
    return secrets_manager.get_secret_value(SecretId=arn)["SecretString"]


def lambda_handler(event, context, *, now: datetime | None = None, session=None) -> dict[str, float]:
    settings = Settings.from_env()
    session = session or boto3.session.Session()
    now = now or datetime.now(UTC)
    token = read_token(session.client("secretsmanager"), settings.token_secret_arn)
    metrics = compute_metrics(fetch_backups(settings, token), now)
    publish(session.client("cloudwatch"), settings, metrics, now)
    LOG.info(json.dumps({"environment": settings.environment, "project": settings.project_ref, **metrics}))
    return metrics
