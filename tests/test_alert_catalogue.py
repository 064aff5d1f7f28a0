"""The one alert catalogue (tools/alerts_doc.py -> docs/alerts.md): generated from both stacks' plans, current,
and complete: every alert on every plane has a severity, a route and a runbook page that exists, is written out
(Triage, Mitigation, Verification) and is listed in the runbook index. Planted gaps (a page removed, an alarm
description without its link, a Sentry alert the catalogue does not know) fail it."""

from __future__ import annotations

import dataclasses
import shutil

import pytest

import tools.alerts_doc as alerts_doc
from tests.support.plans import plan
from tools.harness import PlanResult

RUNBOOKS = alerts_doc.RUNBOOKS


def _results() -> dict[str, PlanResult]:
    return {stack: plan(stack) for stack in ("production", "staging")}


@pytest.fixture(scope="module")
def entries():
    return alerts_doc.catalogue(_results())


def test_docs_alerts_md_is_what_the_code_declares(entries):
    assert alerts_doc.DOC.read_text() == alerts_doc.render(entries), (
        "docs/alerts.md is stale: run `python -m tools.alerts_doc` and commit it")


def test_every_plane_is_in_the_catalogue(entries):
    sources = {alert.source for alert, _ in entries}
    assert sources == {"Prometheus", "CloudWatch alarm", "EventBridge rule", "Sentry", "Vercel"}
    names = {alert.name for alert, _ in entries}
    for expected in ("BackupDumpJobFailed", "BackupDumpOverdue", "kingtavo-{env}-dump-stale",
                     "kingtavo-{env}-secret-rotation-errors", "kingtavo-{env}-secret-rotation-failed",
                     "kingtavo-{env}-vercel-alert-forwarder-throttles", "Watchdog"):
        assert expected in names, expected


def test_every_lambda_has_an_errors_alarm():
    for stack, result in _results().items():
        functions = {f.inputs["name"] for f in result.by_type("aws:lambda/function:Function")}
        alarmed = {a.inputs["name"].removesuffix("-errors") for a in result.by_type(
            "aws:cloudwatch/metricAlarm:MetricAlarm") if a.inputs["metricName"] == "Errors"}
        assert functions and functions <= alarmed, (stack, functions - alarmed)


def test_every_alert_has_a_severity_a_route_and_a_written_runbook(entries):
    index = (RUNBOOKS / "README.md").read_text()
    for alert, stacks in entries:
        assert alert.severity in ("critical", "warning", "none"), alert
        assert alert.route and stacks, alert
        page = RUNBOOKS / f"{alert.runbook}.md"
        text = page.read_text()
        assert text.startswith("# "), page.name
        for section in ("## Triage", "## Mitigation", "## Verification"):
            assert section in text, f"{page.name} has no {section}"
        assert f"]({page.name})" in index, f"docs/runbooks/README.md does not list {page.name}"
        if alert.severity == "critical":
            assert "critical" in text.split("\n\n", 2)[1].lower(), f"{page.name} does not state its severity"


def test_the_index_states_severity_and_escalation():
    index = (RUNBOOKS / "README.md").read_text()
    assert "## Severity and escalation" in index
    for words in ("critical", "warning", "15 minutes", "30 minutes", "business hours", "heartbeat"):
        assert words in index, words


def test_a_missing_runbook_page_fails_the_catalogue(tmp_path, monkeypatch):
    copy = tmp_path / "runbooks"
    shutil.copytree(RUNBOOKS, copy)
    (copy / "backup-dump-stale.md").unlink()
    monkeypatch.setattr(alerts_doc, "RUNBOOKS", copy)
    with pytest.raises(alerts_doc.CatalogueError, match="backup-dump-stale"):
        alerts_doc.catalogue(_results())


def _with_changed(result: PlanResult, type_token: str, resource_name: str, **inputs) -> PlanResult:
    resources = [dataclasses.replace(r, inputs={**r.inputs, **inputs})
                 if (r.type, r.name) == (type_token, resource_name)
                 else r for r in result.resources]
    assert resources != result.resources
    return dataclasses.replace(result, resources=resources)


def test_an_alarm_without_its_runbook_link_fails_the_catalogue():
    production = plan("production")
    broken = _with_changed(production, "aws:cloudwatch/metricAlarm:MetricAlarm", "backup-monitor-dump-stale",
                           alarmDescription="The newest dump is old.")
    with pytest.raises(alerts_doc.CatalogueError, match="kingtavo-production-dump-stale: its description"):
        alerts_doc.catalogue({"production": broken})


def test_an_alarm_tagged_one_severity_but_routed_to_another_fails():
    production = plan("production")
    alarm = production.one("aws:cloudwatch/metricAlarm:MetricAlarm", "backup-monitor-dump-stale")
    broken = _with_changed(production, alarm.type, alarm.name, tags={**alarm.inputs["tags"], "severity": "warning"})
    with pytest.raises(alerts_doc.CatalogueError, match="tagged severity 'warning'"):
        alerts_doc.catalogue({"production": broken})


def test_a_sentry_alert_whose_name_names_no_runbook_fails():
    production = _results()["production"]
    alert = next(r for r in production.resources if r.type == "sentry:index/sentryIssueAlert:SentryIssueAlert")
    unnamed = alert.inputs["name"].split(" (runbook:")[0]
    broken = _with_changed(production, alert.type, alert.name, **{"name": unnamed})
    with pytest.raises(alerts_doc.CatalogueError, match="a Sentry alert whose name names no runbook"):
        alerts_doc.catalogue({"production": broken})


def test_check_mode_fails_on_a_stale_file(tmp_path, monkeypatch):
    stale = tmp_path / "alerts.md"
    stale.write_text(alerts_doc.DOC.read_text().replace("| critical |", "| warning |", 1))
    monkeypatch.setattr(alerts_doc, "DOC", stale)
    monkeypatch.setattr(alerts_doc, "catalogue", _real_catalogue)  # the cached plans, not two fresh runs
    assert alerts_doc.main(["--check"]) == 1
    stale.write_text(alerts_doc.render(_real_catalogue()))
    assert alerts_doc.main(["--check"]) == 0


_CATALOGUE = alerts_doc.catalogue


def _real_catalogue():
    return _CATALOGUE(_results())
