"""Error tracking in Sentry: a project each for the web app and the ETL service, their client keys and the alerts
that page.

Each stack owns its own pair of projects (`kingtavo-web-<environment>`, `kingtavo-etl-<environment>`)
in the configured organization and team, so staging and production never manage the same
Sentry objects, and every alert is also scoped to the stack's Sentry environment.

Per project, three alerts go to the critical route, the PagerDuty service that the alerting
plane pages (Sentry reaches it through its PagerDuty integration, named by
`sentry.pagerdutyIntegrationId` / `sentry.pagerdutyServiceId`):

- a fatal error: a new, regressed or reappeared issue at level fatal;
- a burst of errors: one issue seen more than `sentry.errorBurstCount` times in 5 minutes;
- the error rate: the share of failed transactions above `sentry.errorRateThresholdPercent`
  over 5 minutes (the operations document's 5xx rule; it needs tracing on in the SDKs).

A DSN is public by design (browsers send events with it), so the keys' `dsn_public` outputs
are handed on in the clear: to the frontend as `NEXT_PUBLIC_SENTRY_DSN` and to the ETL's
ConfigMap as `SENTRY_DSN`. The Sentry auth token is a secret: it reaches only this
component's explicit provider, as a Pulumi secret.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumiverse_sentry as sentry

from components.core.context import StackContext
from components.core.settings import Secret, SentrySettings

# Sentry's rule registry ids (sentry/rules, sentry/integrations/pagerduty).
FIRST_SEEN = "sentry.rules.conditions.first_seen_event.FirstSeenEventCondition"
REGRESSION = "sentry.rules.conditions.regression_event.RegressionEventCondition"
REAPPEARED = "sentry.rules.conditions.reappeared_event.ReappearedEventCondition"
EVENT_FREQUENCY = "sentry.rules.conditions.event_frequency.EventFrequencyCondition"
LEVEL_FILTER = "sentry.rules.filters.level.LevelFilter"
PAGERDUTY_ACTION = "sentry.integrations.pagerduty.notify_action.PagerDutyNotifyServiceAction"
# Sentry's numeric log levels (sentry.constants.LOG_LEVELS).
LEVEL_ERROR = "40"
LEVEL_FATAL = "50"
WINDOW_MINUTES = 5
# Page at most once per issue in this many minutes; PagerDuty keeps the incident open meanwhile.
ALERT_FREQUENCY_MINUTES = 30
THRESHOLD_ABOVE = 0


@dataclass(frozen=True)
class ErrorTrackingArgs:
    ctx: StackContext
    settings: SentrySettings
    auth_token: Secret


@dataclass(frozen=True)
class SentryApp:
    """One tracked application: the project's name part and its SDK platform."""

    role: str
    title: str
    platform: str


def project_slug(role: str, environment: str) -> str:
    """`kingtavo-web-staging`: one project per app and stack, so two stacks never manage the same project."""
    return f"kingtavo-{role}-{environment}"


def pagerduty_issue_action(settings: SentrySettings) -> dict[str, str]:
    """An issue-alert action that triggers the critical PagerDuty service."""
    return {"id": PAGERDUTY_ACTION, "account": str(settings.pagerduty_integration_id),
            "service": str(settings.pagerduty_service_id), "severity": "critical"}


def pagerduty_metric_action(settings: SentrySettings) -> sentry.SentryMetricAlertTriggerActionArgs:
    """A metric-alert trigger action that triggers the critical PagerDuty service."""
    return sentry.SentryMetricAlertTriggerActionArgs(
        type="pagerduty", target_type="specific", target_identifier=str(settings.pagerduty_service_id),
        integration_id=settings.pagerduty_integration_id)


class ErrorTracking(pulumi.ComponentResource):
    """Sentry projects, keys and paging alerts for the web app and the ETL service.

    Outputs: web_dsn, etl_dsn (public DSNs), web_public_env (for the Vercel project), etl_config_env
    (for the ETL's ConfigMap), web_project, etl_project (slugs).
    """

    def __init__(self, name: str, args: ErrorTrackingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kingtavo:observability:ErrorTracking", name, None, opts)
        settings = args.settings
        self.provider = sentry.Provider(f"{name}-provider", token=args.auth_token.output(),
                                        opts=pulumi.ResourceOptions(parent=self))
        apps = (SentryApp("web", "web app", settings.web_platform),
                SentryApp("etl", "ETL service", settings.etl_platform))
        dsns = {app.role: self._tracked_app(name, app, args) for app in apps}

        self.web_dsn, self.etl_dsn = dsns["web"], dsns["etl"]
        self.web_project = project_slug("web", args.ctx.environment)
        self.etl_project = project_slug("etl", args.ctx.environment)
        self.web_public_env: dict[str, pulumi.Input[str]] = {
            "NEXT_PUBLIC_SENTRY_DSN": self.web_dsn, "NEXT_PUBLIC_SENTRY_ENVIRONMENT": args.ctx.environment}
        self.etl_config_env: dict[str, pulumi.Input[str]] = {
            "SENTRY_DSN": self.etl_dsn, "SENTRY_ENVIRONMENT": args.ctx.environment}
        self.register_outputs({"webDsn": self.web_dsn, "etlDsn": self.etl_dsn, "webProject": self.web_project,
                               "etlProject": self.etl_project})

    def _tracked_app(self, name: str, app: SentryApp, args: ErrorTrackingArgs) -> pulumi.Output[str]:
        """The app's project (protected in production: it holds the error history), its key and alerts."""
        settings, environment = args.settings, args.ctx.environment
        child = pulumi.ResourceOptions(parent=self, provider=self.provider)
        slug = project_slug(app.role, environment)
        project = sentry.SentryProject(
            f"{name}-{app.role}-project", organization=settings.organization, teams=[settings.team],
            name=f"Kingtavo {app.title} ({environment})", slug=slug, platform=app.platform,
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(protect=args.ctx.protect)))
        key = sentry.SentryKey(f"{name}-{app.role}-key", organization=settings.organization, project=project.id,
                               name=f"{slug} client", opts=child)
        self._issue_alerts(name, app, project, args)
        self._error_rate_alert(name, app, project, args)
        return key.dsn_public

    def _issue_alerts(self, name: str, app: SentryApp, project: sentry.SentryProject, args: ErrorTrackingArgs
                      ) -> None:
        settings, environment = args.settings, args.ctx.environment
        child = pulumi.ResourceOptions(parent=self, provider=self.provider)
        common = {"organization": settings.organization, "project": project.id, "environment": environment,
                  "frequency": ALERT_FREQUENCY_MINUTES, "actions": [pagerduty_issue_action(settings)]}
        sentry.SentryIssueAlert(
            f"{name}-{app.role}-fatal-alert",
            name=f"Critical: fatal error in the {app.title} ({environment}) (runbook: sentry-fatal-error)",
            action_match="any", conditions=[{"id": FIRST_SEEN}, {"id": REGRESSION}, {"id": REAPPEARED}],
            filter_match="all", filters=[{"id": LEVEL_FILTER, "match": "eq", "level": LEVEL_FATAL}],
            opts=child, **common)
        sentry.SentryIssueAlert(
            f"{name}-{app.role}-burst-alert",
            name=(f"Critical: an error seen more than {settings.error_burst_count} times in {WINDOW_MINUTES} minutes "
                  f"in the {app.title} ({environment}) (runbook: sentry-error-burst)"),
            action_match="all",
            conditions=[{"id": EVENT_FREQUENCY, "value": str(settings.error_burst_count), "comparisonType": "count",
                         "interval": f"{WINDOW_MINUTES}m"}],
            filter_match="all", filters=[{"id": LEVEL_FILTER, "match": "gte", "level": LEVEL_ERROR}],
            opts=child, **common)

    def _error_rate_alert(self, name: str, app: SentryApp, project: sentry.SentryProject, args: ErrorTrackingArgs
                          ) -> None:
        """Failed transactions above the threshold; Sentry's failure_rate() is a fraction, the setting a percent."""
        settings, environment = args.settings, args.ctx.environment
        threshold = settings.error_rate_threshold_percent / 100
        sentry.SentryMetricAlert(
            f"{name}-{app.role}-error-rate-alert",
            name=(f"Critical: error rate above {settings.error_rate_threshold_percent:g}% over {WINDOW_MINUTES} "
                  f"minutes in the {app.title} ({environment}) (runbook: sentry-error-rate)"),
            organization=settings.organization, project=project.id, environment=environment,
            dataset="transactions", event_types=["transaction"], query="", aggregate="failure_rate()",
            time_window=WINDOW_MINUTES, threshold_type=THRESHOLD_ABOVE,
            triggers=[sentry.SentryMetricAlertTriggerArgs(
                label="critical", alert_threshold=threshold, threshold_type=THRESHOLD_ABOVE,
                actions=[pagerduty_metric_action(settings)])],
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider))

