"""The alert thresholds the stack settings choose, in one place for the Prometheus rules, the Vercel rule and the
backup alarms. Defaults are the operations document's: a 5xx share above 5% over 5 minutes, database CPU above 80%
for 10 minutes, under 10% disk free; dumps are taken daily, so one older than 30 hours is overdue."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Thresholds:
    """The alert thresholds the stack settings choose; the defaults are the operations document's."""

    etl_no_success_hours: int = 6
    http_5xx_share_percent: float = 5.0
    http_5xx_window_minutes: int = 5
    cpu_percent: float = 80.0
    cpu_for_minutes: int = 10
    disk_free_percent: float = 10.0
    max_dump_age_hours: int = 30

    @staticmethod
    def from_settings(alerting, backups) -> Thresholds:
        """From `AlertingSettings` and `BackupsSettings` (components/core/settings.py)."""
        return Thresholds(
            etl_no_success_hours=alerting.etl_no_success_hours,
            http_5xx_share_percent=alerting.server_error_share_percent,
            http_5xx_window_minutes=alerting.server_error_window_minutes,
            cpu_percent=alerting.database_cpu_threshold_percent, cpu_for_minutes=alerting.database_cpu_for_minutes,
            disk_free_percent=alerting.database_disk_free_threshold_percent,
            max_dump_age_hours=backups.max_dump_age_hours)
