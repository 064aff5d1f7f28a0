"""The alert catalogue: every alert the program declares, read from its plan, written to docs/alerts.md.

    python -m tools.alerts_doc           # rewrite docs/alerts.md
    python -m tools.alerts_doc --check   # exit 1 (and say why) when docs/alerts.md is not what the code declares

It runs the real program for both stacks under the mock engine (tools/harness.py) and collects, from the planned
resources rather than from a hand-kept list: the Prometheus rules (the PrometheusRule), the CloudWatch alarms, the
EventBridge rules that page, the Sentry alerts and the Vercel alert rule. For each it records the severity, where
it goes (the route), the stacks that declare it and its runbook page under docs/runbooks/. An alert whose runbook
cannot be found is an error, not a blank cell: `catalogue()` raises, so the `--check` run in CI (and
tests/test_alert_catalogue.py) fails until the page exists.

Where a runbook is read from:
- Prometheus rules: the `runbook_url` annotation;
- CloudWatch alarms and EventBridge rules: the description's trailing `Runbook: <url>` (AlarmTargets.describe);
- the Vercel rule: `(runbook: <slug>)` in its name (the rule has no description; Vercel shows the name);
- Sentry alerts (no description field): `(runbook: <slug>)` at the end of the alert's name.

Our own code, not a library: the catalogue is a projection of this program's plan, which only this program has.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from components.core.environments import STACKS

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "alerts.md"
RUNBOOKS = ROOT / "docs" / "runbooks"

PROMETHEUS_ROUTES = {"critical": "Alertmanager: PagerDuty + Slack", "warning": "Alertmanager: Slack",
                     "none": "Alertmanager: heartbeat (dead man's switch)"}
TOPIC_ROUTES = {"critical": "SNS alerts-critical: PagerDuty + Slack", "warning": "SNS alerts-warning: Slack"}
_RUNBOOK_URL = re.compile(r"/([a-z0-9]+(?:-[a-z0-9]+)*)\.md$")
_DESCRIBED = re.compile(r"Runbook: (\S+)$")
_NAMED = re.compile(r"\(runbook: ([a-z0-9-]+)\)")


class CatalogueError(Exception):
    """An alert without a runbook, or one the catalogue cannot read."""


@dataclass(frozen=True)
class Alert:
    name: str
    source: str
    severity: str
    route: str
    runbook: str  # slug of docs/runbooks/<runbook>.md
    fires_when: str


def _slug_from_url(alert: str, url: str | None) -> str:
    match = _RUNBOOK_URL.search(url or "")
    if not match:
        raise CatalogueError(f"{alert}: no runbook link (expected .../<slug>.md, got {url!r})")
    return match.group(1)


def _generic(name: str, environment: str) -> str:
    """`kingtavo-production-backup-stale` -> `kingtavo-<env>-backup-stale`: one row for both stacks."""
    return (name.replace(f"-{environment}-", "-{env}-").replace(f"({environment})", "({env})")
            .replace(f"/{environment}/", "/{env}/"))


def _prometheus(result) -> list[Alert]:
    alerts = []
    for resource in result.by_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule"):
        for group in resource.inputs["spec"]["groups"]:
            for rule in group["rules"]:
                severity = rule["labels"]["severity"]
                alerts.append(Alert(rule["alert"], "Prometheus", severity, PROMETHEUS_ROUTES[severity],
                                    _slug_from_url(rule["alert"], rule["annotations"].get("runbook_url")),
                                    rule["annotations"]["summary"]))
    return alerts


def _topic_routes(result) -> dict[str, str]:
    routes = {}
    for topic in result.by_type("aws:sns/topic:Topic"):
        severity = topic.inputs.get("tags", {}).get("kingtavo:severity")
        if severity in TOPIC_ROUTES:
            routes[topic.outputs["arn"]] = severity
    return routes


def _described(name: str, description: str | None) -> tuple[str, str]:
    match = _DESCRIBED.search(description or "")
    if not match:
        raise CatalogueError(f"{name}: its description does not end with 'Runbook: <url>'")
    return description[:match.start()].strip(), _slug_from_url(name, match.group(1))


def _aws(result, environment: str) -> list[Alert]:
    topics, alerts = _topic_routes(result), []
    for alarm in result.by_type("aws:cloudwatch/metricAlarm:MetricAlarm"):
        name = alarm.inputs["name"]
        text, runbook = _described(name, alarm.inputs.get("alarmDescription"))
        severities = {topics.get(arn) for arn in alarm.inputs.get("alarmActions", [])}
        if len(severities) != 1 or None in severities:
            raise CatalogueError(f"{name}: its actions reach no alert topic, or several")
        severity = severities.pop()
        if alarm.inputs.get("tags", {}).get("severity") != severity:
            raise CatalogueError(f"{name}: tagged severity {alarm.inputs.get('tags', {}).get('severity')!r}, "
                                 f"but it notifies the {severity} topic")
        alerts.append(Alert(_generic(name, environment), "CloudWatch alarm", severity, TOPIC_ROUTES[severity],
                            runbook, _generic(text, environment)))
    targets = {t.inputs.get("rule"): t.inputs["arn"] for t in result.by_type("aws:cloudwatch/eventTarget:EventTarget")}
    for rule in result.by_type("aws:cloudwatch/eventRule:EventRule"):
        if "eventPattern" not in rule.inputs:
            continue  # a schedule, not an alert
        name = rule.inputs["name"]
        text, runbook = _described(name, rule.inputs.get("description"))
        severity = topics.get(targets.get(name, ""))
        if severity is None:
            raise CatalogueError(f"{name}: the rule's target is not an alert topic")
        alerts.append(Alert(_generic(name, environment), "EventBridge rule", severity, TOPIC_ROUTES[severity],
                            runbook, _generic(text, environment)))
    return alerts


def _sentry(result, environment: str) -> list[Alert]:
    alerts = []
    for kind in ("sentryIssueAlert:SentryIssueAlert", "sentryMetricAlert:SentryMetricAlert"):
        for alert in result.by_type(f"sentry:index/{kind}"):
            name = _generic(alert.inputs["name"], environment)
            named = _NAMED.search(name)  # sentry.py ends each alert's name with `(runbook: <slug>)`
            if named is None:
                raise CatalogueError(f"{alert.name}: a Sentry alert whose name names no runbook")
            runbook, name = named.group(1), name[:named.start()].strip()
            severity = "critical" if name.startswith("Critical:") else "warning"
            alerts.append(Alert(name, "Sentry", severity, "Sentry: PagerDuty (critical service)", runbook,
                                name.split(": ", 1)[-1]))
    return alerts


def _vercel(result) -> list[Alert]:
    alerts = []
    for rule in result.by_type("vercel:index/customAlertRule:CustomAlertRule"):
        match = _NAMED.search(rule.inputs["name"])
        if not match:
            raise CatalogueError(f"{rule.inputs['name']}: a Vercel rule without '(runbook: <slug>)' in its name")
        severity = {"high": "critical"}.get(rule.inputs.get("severity"), "warning")
        trigger = rule.inputs["trigger"]
        alerts.append(Alert(rule.inputs["name"][:match.start()].strip(), "Vercel", severity,
                            "Vercel: Slack + webhook -> forwarder -> SNS alerts-critical: PagerDuty", match.group(1),
                            f"5xx share above {trigger['threshold'] * 100:g}% over "
                            f"{rule.inputs['evaluation']['window']}"))
    return alerts


def catalogue(results: dict | None = None) -> list[tuple[Alert, tuple[str, ...]]]:
    """Every alert with the stacks declaring it, sorted by source and name; raises CatalogueError on a gap."""
    if results is None:
        from tools.harness import run_stack

        results = {stack: run_stack(stack) for stack in reversed(STACKS)}  # production's texts first
    found: dict[Alert, list[str]] = {}
    for stack, result in results.items():
        for alert in [*_prometheus(result), *_aws(result, stack), *_sentry(result, stack), *_vercel(result)]:
            if alert.source == "Prometheus":  # rendered per stack with its own thresholds: one row per name
                alert = next((a for a in found if (a.source, a.name) == ("Prometheus", alert.name)), alert)
            found.setdefault(alert, []).append(stack)
    missing = sorted({a.runbook for a in found if not (RUNBOOKS / f"{a.runbook}.md").is_file()})
    if missing:
        raise CatalogueError(f"runbook pages missing under docs/runbooks/: {', '.join(missing)}")
    order = ("Prometheus", "CloudWatch alarm", "EventBridge rule", "Sentry", "Vercel")
    return sorted(((a, tuple(s)) for a, s in found.items()), key=lambda item: (order.index(item[0].source),
                                                                              item[0].name))


def render(entries: list[tuple[Alert, tuple[str, ...]]]) -> str:
    lines = [
        "# Alert catalogue",
        "",
        "Generated by `python -m tools.alerts_doc` from the program's plan for both stacks; do not edit by hand",
        "(CI runs `python -m tools.alerts_doc --check`). Severity, escalation and what each route means:",
        "[docs/runbooks/README.md](runbooks/README.md).",
        "",
        "| Alert | Source | Severity | Route | Stacks | Runbook | Fires when |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for alert, stacks in entries:
        cells = [alert.name, alert.source, alert.severity, alert.route, ", ".join(sorted(stacks, reverse=True)),
                 f"[{alert.runbook}](runbooks/{alert.runbook}.md)", alert.fires_when]
        lines.append("| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when docs/alerts.md is not current")
    args = parser.parse_args(argv)
    try:
        text = render(catalogue())
    except CatalogueError as error:
        print(f"alert catalogue: {error}", file=sys.stderr)
        return 1
    if args.check:
        if not DOC.is_file() or DOC.read_text() != text:
            print("docs/alerts.md is not current: run `python -m tools.alerts_doc` and commit it", file=sys.stderr)
            return 1
        print(f"docs/alerts.md is current ({len(text.splitlines()) - 8} alerts)")
        return 0
    DOC.write_text(text)
    print(f"wrote {DOC.relative_to(ROOT)} ({len(text.splitlines()) - 8} alerts)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
