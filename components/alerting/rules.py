"""The cluster's alert rules, declared once as data and rendered for the PrometheusRule and for promtool.

Pure data and rendering, no Pulumi resources: components/alerting/monitoring.py puts `render_rule_groups(...)` into a
PrometheusRule, and the tests run `promtool check rules` / `promtool test rules` on `render_rules_file(...)`,
the very same groups as a Prometheus rules file.

Severity decides the route (components/alerting/alertmanager.py): `critical` pages through PagerDuty, `warning`
goes to Slack, and `Watchdog` carries `severity: none` and goes to the heartbeat receiver, as in kube-prometheus.

No rule depends on which color is live: flipping `kingtavo:activeColor` changes only two Kubernetes Services
and two Vercel aliases, so the rules read the live Service's endpoints (kube-state-metrics) and aggregate the
ETL's own series over both colors (the 5xx share is kept per color, whichever color that is).

Adding an alert: append an `AlertRule` to a group below, write
`docs/runbooks/<runbook>.md` and list it in docs/runbooks/README.md, and add its fire / no-fire cases under
tests/promtool/. tests/test_alert_rules.py fails until all three exist.

Expressions, durations and annotations may use the `${...}` placeholders of `_placeholders` (the ETL's namespace
and live Service, the thresholds of `Thresholds`, which the stack settings fill); everything else with a `$`
(`$value`, `$labels`) is Prometheus templating.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from string import Template

import yaml

from components.alerting.thresholds import Thresholds

SEVERITIES = ("critical", "warning", "none")
ETL_LIVE_SERVICE = "etl-live"  # the default; the program passes BlueGreenService.live_service_name
# Below this request rate (per color) the 5xx share is too noisy to page on: a handful of failed requests out
# of a dozen is 10%. A failing ETL with almost no HTTP traffic still shows up in EtlRunsFailing.
ETL_MIN_REQUESTS_PER_SECOND = 0.1
_DURATION = re.compile(r"^[0-9]+[smh]$")
_PLACEHOLDER = re.compile(r"^\$\{[a-z0-9_]+\}$")
DUMP_NAMESPACE = "db-backup"  # components/backups/dump_job.py: BackupDumpJobArgs.namespace and the CronJob's name
DUMP_CRONJOB = "db-backup"


@dataclass(frozen=True)
class AlertRule:
    """One alert: what it watches (expr), how long it must hold (for_), who hears of it (severity)."""

    name: str
    expr: str
    for_: str
    severity: str
    summary: str
    description: str
    runbook: str  # slug of docs/runbooks/<runbook>.md
    labels: tuple[tuple[str, str], ...] = ()  # extra labels, e.g. the namespace an aggregated expr dropped

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"{self.name}: severity {self.severity!r} is not one of {SEVERITIES}")
        if not (_DURATION.match(self.for_) or _PLACEHOLDER.match(self.for_)):
            raise ValueError(f"{self.name}: for {self.for_!r} is not a duration like 5m")
        if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", self.runbook):
            raise ValueError(f"{self.name}: runbook slug {self.runbook!r} is not kebab-case")


@dataclass(frozen=True)
class RuleGroup:
    name: str
    rules: tuple[AlertRule, ...]


_ETL_NAMESPACE_LABEL = (("namespace", "${etl_namespace}"),)

ETL_RULES = RuleGroup("kingtavo.etl", (
    AlertRule(
        name="EtlHighHttp5xxRate",
        expr=f"""(
  sum by (color) (rate(http_requests_total{{job="etl", code=~"5.."}}[${{http_5xx_window}}]))
/
  sum by (color) (rate(http_requests_total{{job="etl"}}[${{http_5xx_window}}]))
) > ${{http_5xx_share}}
and
sum by (color) (rate(http_requests_total{{job="etl"}}[${{http_5xx_window}}])) > {ETL_MIN_REQUESTS_PER_SECOND}""",
        for_="${http_5xx_window}",
        severity="critical",
        summary="ETL {{ $labels.color }}: {{ $value | humanizePercentage }} of requests fail with 5xx",
        description=("More than ${http_5xx_percent}% of the HTTP requests served by the {{ $labels.color }} ETL pods "
                     "returned a 5xx status over the last ${http_5xx_minutes} minutes, "
                     "for ${http_5xx_minutes} minutes."),
        runbook="etl-high-http-5xx-rate",
        labels=_ETL_NAMESPACE_LABEL),
    AlertRule(
        name="EtlRunsFailing",
        expr='sum(increase(etl_runs_total{job="etl", status="failed"}[30m])) > 0',
        for_="5m",
        severity="warning",
        summary="ETL runs are failing",
        description="ETL runs that failed in the last 30 minutes: about {{ printf \"%.0f\" $value }}.",
        runbook="etl-runs-failing",
        labels=_ETL_NAMESPACE_LABEL),
    AlertRule(
        # The `offset` guard keeps a Prometheus that has watched the ETL for less than the window quiet (it
        # cannot know about runs before its own history); the absent branch covers "no series at all".
        name="EtlNoSuccessfulRun",
        expr="""(
  sum(increase(etl_runs_total{job="etl", status="succeeded"}[${etl_no_success_window}])) < 1
  and on ()
  count(etl_runs_total{job="etl", status="succeeded"} offset ${etl_no_success_window}) > 0
)
or on ()
sum(absent_over_time(etl_runs_total{job="etl", status="succeeded"}[${etl_no_success_window}]))""",
        for_="5m",
        severity="critical",
        summary="No successful ETL run for ${etl_no_success_hours} hours",
        description=("No ETL run has reported status=\"succeeded\" for ${etl_no_success_hours} hours "
                     "(or the ETL's run counter has not been scraped at all in that time)."),
        runbook="etl-no-successful-run",
        labels=_ETL_NAMESPACE_LABEL),
    AlertRule(
        name="EtlLiveColorUnavailable",
        expr="""(
  sum(kube_endpoint_address{namespace="${etl_namespace}", endpoint="${etl_live_service}", ready="true"})
  or on () vector(0)
) < 1""",
        for_="2m",
        severity="critical",
        summary="The live ETL Service ${etl_live_service} has no ready endpoint",
        description=("Service ${etl_namespace}/${etl_live_service} has had no ready endpoint for 2 minutes: "
                     "the live color serves no traffic."),
        runbook="etl-live-color-unavailable",
        labels=_ETL_NAMESPACE_LABEL + (("service", "${etl_live_service}"),)),
))

SUPABASE_RULES = RuleGroup("kingtavo.supabase", (
    AlertRule(
        name="SupabaseDbHighCpu",
        expr="""1 - avg without (cpu, mode) (
  rate(node_cpu_seconds_total{job="supabase", mode="idle"}[5m])
) > ${cpu_ratio}""",
        for_="${cpu_for}",
        severity="warning",
        summary="Supabase database CPU at {{ $value | humanizePercentage }}",
        description="The Supabase database host has been above ${cpu_percent}% CPU for ${cpu_for_minutes} minutes.",
        runbook="supabase-db-high-cpu"),
    AlertRule(
        name="SupabaseDbLowDisk",
        expr="""node_filesystem_avail_bytes{job="supabase", mountpoint="/data"}
/
node_filesystem_size_bytes{job="supabase", mountpoint="/data"}
< ${disk_free_ratio}""",
        for_="5m",
        severity="critical",
        summary="Supabase database disk /data has {{ $value | humanizePercentage }} free",
        description=("Less than ${disk_free_percent}% of /data is free on the Supabase database host; Supabase turns "
                     "the database "
                     "read-only when the disk is nearly full."),
        runbook="supabase-db-low-disk"),
    AlertRule(
        name="SupabaseDbDown",
        expr='pg_up{job="supabase"} == 0',
        for_="2m",
        severity="critical",
        summary="Supabase Postgres is down",
        description="The Supabase metrics endpoint has reported pg_up == 0 for 2 minutes.",
        runbook="supabase-db-down"),
    AlertRule(
        # Without this, a broken scrape (a rotated service key, a paused project) silences the three alerts above.
        name="SupabaseMetricsUnreachable",
        expr='up{job="supabase"} == 0 or absent(up{job="supabase"})',
        for_="10m",
        severity="warning",
        summary="Prometheus cannot scrape the Supabase metrics endpoint",
        description=("The supabase scrape job has failed for 10 minutes, so the Supabase database alerts "
                     "cannot fire."),
        runbook="supabase-metrics-unreachable"),
))

_DUMP_JOBS = 'namespace="${dump_namespace}", job_name=~"${dump_cronjob}-[0-9]+"'
_DUMP_CRONJOB = 'namespace="${dump_namespace}", cronjob="${dump_cronjob}"'

BACKUP_RULES = RuleGroup("kingtavo.backups", (
    AlertRule(
        # Only the newest Job of the CronJob counts: an old failure kept in the history (failedJobsHistoryLimit)
        # stops firing once a newer run exists; a Job that failed a pod but then succeeded never fires.
        name="BackupDumpJobFailed",
        expr=f"""(
  kube_job_status_failed{{{_DUMP_JOBS}}} > 0
  unless on (namespace, job_name)
  kube_job_status_succeeded{{{_DUMP_JOBS}}} > 0
)
and on (namespace, job_name)
(
  kube_job_status_start_time{{{_DUMP_JOBS}}}
  == on (namespace) group_left ()
  max by (namespace) (kube_job_status_start_time{{{_DUMP_JOBS}}})
)""",
        for_="5m",
        severity="warning",
        summary="The nightly database dump Job {{ $labels.job_name }} failed",
        description=("The newest run of the CronJob ${dump_namespace}/${dump_cronjob} failed, so tonight's dump is "
                     "not in the archive. Supabase's own backups are unaffected."),
        runbook="backup-dump-job-failed"),
    AlertRule(
        # The absent branch covers a deleted CronJob (or kube-state-metrics not seeing it).
        name="BackupDumpOverdue",
        expr=f"""(
  time() - max by (namespace, cronjob) (kube_cronjob_status_last_successful_time{{{_DUMP_CRONJOB}}})
) > ${{dump_max_age_seconds}}
or
(
  (time() - max by (namespace, cronjob) (kube_cronjob_created{{{_DUMP_CRONJOB}}})) > ${{dump_max_age_seconds}}
  unless on (namespace, cronjob)
  kube_cronjob_status_last_successful_time{{{_DUMP_CRONJOB}}}
)
or
absent(kube_cronjob_created{{{_DUMP_CRONJOB}}})""",
        for_="10m",
        severity="warning",
        summary="No successful database dump for ${dump_max_age_hours} hours",
        description=("The CronJob ${dump_namespace}/${dump_cronjob} has not completed a run for ${dump_max_age_hours} "
                     "hours (or kube-state-metrics does not see it at all)."),
        runbook="backup-dump-overdue"),
))

HEARTBEAT_RULES = RuleGroup("kingtavo.heartbeat", (
    AlertRule(
        name="Watchdog",
        expr="vector(1)",
        for_="0m",
        severity="none",
        summary="Always firing: proves the alerting pipeline works",
        description=("This alert always fires and goes to the heartbeat receiver: a dead man's switch watching "
                     "that receiver notices when Prometheus or Alertmanager stops working."),
        runbook="watchdog"),
))

RULE_GROUPS: tuple[RuleGroup, ...] = (ETL_RULES, SUPABASE_RULES, BACKUP_RULES, HEARTBEAT_RULES)


def all_rules() -> tuple[AlertRule, ...]:
    return tuple(rule for group in RULE_GROUPS for rule in group.rules)


def _number(value: float) -> str:
    return f"{value:g}"


def _placeholders(*, etl_namespace: str, etl_live_service: str, thresholds: Thresholds) -> dict[str, str]:
    t = thresholds
    return {
        "etl_namespace": etl_namespace,
        "etl_live_service": etl_live_service,
        "etl_no_success_hours": str(t.etl_no_success_hours),
        "etl_no_success_window": f"{t.etl_no_success_hours}h",
        "http_5xx_share": _number(t.http_5xx_share_percent / 100),
        "http_5xx_percent": _number(t.http_5xx_share_percent),
        "http_5xx_window": f"{t.http_5xx_window_minutes}m",
        "http_5xx_minutes": str(t.http_5xx_window_minutes),
        "cpu_ratio": _number(t.cpu_percent / 100),
        "cpu_percent": _number(t.cpu_percent),
        "cpu_for": f"{t.cpu_for_minutes}m",
        "cpu_for_minutes": str(t.cpu_for_minutes),
        "disk_free_ratio": _number(t.disk_free_percent / 100),
        "disk_free_percent": _number(t.disk_free_percent),
        "dump_namespace": DUMP_NAMESPACE,
        "dump_cronjob": DUMP_CRONJOB,
        "dump_max_age_hours": str(t.max_dump_age_hours),
        "dump_max_age_seconds": str(t.max_dump_age_hours * 3600),
    }


def _fill(text: str, placeholders: dict[str, str]) -> str:
    """Substitute our `${...}` placeholders and leave Prometheus' `$value` / `$labels` templating alone."""
    filled = Template(text).safe_substitute(placeholders)
    if "${" in filled:
        raise ValueError(f"unknown placeholder left in {filled!r}")
    return filled


def _render_rule(rule: AlertRule, *, environment: str, runbook_base_url: str,
                 placeholders: dict[str, str]) -> dict:
    labels = {"severity": rule.severity, "environment": environment}
    labels.update({key: _fill(value, placeholders) for key, value in rule.labels})
    return {
        "alert": rule.name,
        "expr": _fill(rule.expr, placeholders),
        "for": _fill(rule.for_, placeholders),
        "labels": labels,
        "annotations": {
            "summary": _fill(rule.summary, placeholders),
            "description": _fill(rule.description, placeholders),
            "runbook_url": f"{runbook_base_url.rstrip('/')}/{rule.runbook}.md",
        },
    }


def render_rule_groups(*, environment: str, runbook_base_url: str, etl_no_success_hours: int | None = None,
                       etl_namespace: str = "etl", etl_live_service: str = ETL_LIVE_SERVICE,
                       thresholds: Thresholds | None = None) -> dict:
    """The PrometheusRule `spec` ({"groups": [...]}); the same shape is a Prometheus rules file.

    `thresholds` default to the operations document's; `etl_no_success_hours`, when given, overrides theirs."""
    thresholds = thresholds or Thresholds()
    if etl_no_success_hours is not None:
        thresholds = dataclasses.replace(thresholds, etl_no_success_hours=etl_no_success_hours)
    if thresholds.etl_no_success_hours < 1:
        raise ValueError("etl_no_success_hours must be at least 1")
    placeholders = _placeholders(etl_namespace=etl_namespace, etl_live_service=etl_live_service,
                                 thresholds=thresholds)
    return {"groups": [
        {"name": group.name,
         "rules": [_render_rule(rule, environment=environment, runbook_base_url=runbook_base_url,
                                placeholders=placeholders) for rule in group.rules]}
        for group in RULE_GROUPS
    ]}


class _RulesDumper(yaml.SafeDumper):
    """Writes multi-line expressions as YAML block scalars, so the rendered file reads like a hand-written one."""


def _block_strings(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_RulesDumper.add_representer(str, _block_strings)


def render_rules_file(*, environment: str, runbook_base_url: str, etl_no_success_hours: int | None = None,
                      etl_namespace: str = "etl", thresholds: Thresholds | None = None) -> str:
    """The same groups as a Prometheus rules file (YAML), for `promtool check rules` and `promtool test rules`."""
    groups = render_rule_groups(environment=environment, etl_no_success_hours=etl_no_success_hours,
                                runbook_base_url=runbook_base_url, etl_namespace=etl_namespace, thresholds=thresholds)
    return yaml.dump(groups, Dumper=_RulesDumper, sort_keys=False, width=120)
