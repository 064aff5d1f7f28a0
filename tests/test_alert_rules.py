"""The alert rules (components/alerting/rules.py), rendered for both stacks and run through the real promtool.

`promtool check rules` validates the rendered file; `promtool test rules` runs the unit tests in
tests/promtool/, which show each alert firing past its threshold and duration and staying quiet just under
either. The rest checks the contract the rules keep: every rule has `for`, a severity and the three
annotations, every runbook_url is a page in docs/runbooks/, and nothing depends on which color is live.
"""

from __future__ import annotations

import inspect
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from components.alerting.rules import SEVERITIES, AlertRule, all_rules, render_rule_groups, render_rules_file
from components.alerting.thresholds import Thresholds

ROOT = Path(__file__).resolve().parent.parent
PROMTOOL_TESTS = sorted((ROOT / "tests" / "promtool").glob("*.test.yaml"))
RUNBOOKS = ROOT / "docs" / "runbooks"
RUNBOOK_BASE_URL = "https://github.com/kingtavo/infrastructure/blob/main/docs/runbooks"
RULES_FILENAME = "kingtavo-alerts.rules.yaml"  # what the promtool test files name in `rule_files`
STACKS = ("staging", "production")


def _promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool is missing: install the Debian package `prometheus` (.ci/run does)"
    return found


def _no_success_hours(stack: str) -> int:
    """The stack's own etlNoSuccessHours, so each stack is rendered as it deploys."""
    config = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    return int(config["kingtavo:alerting"]["etlNoSuccessHours"])


def _render(stack: str, **overrides) -> dict:
    params = {"environment": stack, "etl_no_success_hours": _no_success_hours(stack),
              "runbook_base_url": RUNBOOK_BASE_URL} | overrides
    return render_rule_groups(**params)


def _rendered_rules(groups: dict) -> list[dict]:
    return [rule for group in groups["groups"] for rule in group["rules"]]


def _promtool_run(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([_promtool(), *map(str, args)], capture_output=True, text=True, check=False)


def _unit_test_dir(tmp_path: Path, rules_text: str) -> list[Path]:
    """The rendered rules and copies of the promtool test files side by side, as `rule_files` expects."""
    (tmp_path / RULES_FILENAME).write_text(rules_text)
    copies = []
    for test_file in PROMTOOL_TESTS:
        copy = tmp_path / test_file.name
        copy.write_text(test_file.read_text())
        copies.append(copy)
    return copies


def _production_rules_text() -> str:
    """The promtool test files expect production as rendered with its stack settings (etlNoSuccessHours 6)."""
    return render_rules_file(environment="production", etl_no_success_hours=_no_success_hours("production"),
                             runbook_base_url=RUNBOOK_BASE_URL)


# --- promtool --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("stack", STACKS)
def test_rendered_rules_pass_promtool_check(stack, tmp_path):
    rules_file = tmp_path / RULES_FILENAME
    rules_file.write_text(render_rules_file(environment=stack, etl_no_success_hours=_no_success_hours(stack),
                                            runbook_base_url=RUNBOOK_BASE_URL))
    result = _promtool_run("check", "rules", rules_file)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(all_rules())} rules found" in result.stdout


def test_rules_file_and_prometheus_rule_spec_are_the_same_groups():
    text = _production_rules_text()
    assert yaml.safe_load(text) == _render("production")


def test_promtool_unit_tests_pass(tmp_path):
    assert _no_success_hours("production") == 6, "tests/promtool/etl.test.yaml's EtlNoSuccessfulRun cases assume 6h"
    test_files = _unit_test_dir(tmp_path, _production_rules_text())
    result = _promtool_run("test", "rules", *test_files)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(PROMTOOL_TESTS)


@pytest.mark.parametrize(("alert", "original", "broken"), [
    ("EtlHighHttp5xxRate", ") > 0.05", ") > 0.03"),                      # threshold
    ("SupabaseDbHighCpu", ") > 0.8\n    for: 10m", ") > 0.8\n    for: 8m"),     # duration
    ("EtlLiveColorUnavailable", "or on () vector(0)", ""),                 # the no-series branch
    ("EtlNoSuccessfulRun", "offset 6h) > 0", "offset 1h) > 0"),            # the history guard
    ("BackupDumpOverdue", 'cronjob="db-backup"})) > 108000', 'cronjob="db-backup"})) > 72000'),  # never-succeeded
    ("BackupDumpJobFailed", "== on (namespace) group_left ()", "<= on (namespace) group_left ()"),  # newest Job only
    ("BackupDumpJobFailed", "unless on (namespace, job_name)", "and on (namespace, job_name)"),  # retried to success
])
def test_promtool_unit_tests_catch_a_broken_rule(alert, original, broken, tmp_path):
    """The promtool cases are tight enough that a nudged threshold, duration or branch fails them."""
    text = _production_rules_text()
    assert text.count(original) == 1
    test_files = _unit_test_dir(tmp_path, text.replace(original, broken))
    result = _promtool_run("test", "rules", *test_files)
    assert result.returncode != 0
    assert f"alertname: {alert}" in result.stdout + result.stderr


def _promtool_cases() -> dict[str, list[bool]]:
    """For each alert name, whether each of its evaluations in tests/promtool expects it to fire."""
    cases: dict[str, list[bool]] = {}
    for test_file in PROMTOOL_TESTS:
        for test in yaml.safe_load(test_file.read_text())["tests"]:
            for check in test.get("alert_rule_test", []):
                cases.setdefault(check["alertname"], []).append(bool(check["exp_alerts"]))
    return cases


def test_every_alert_has_fire_and_no_fire_cases():
    cases = _promtool_cases()
    for rule in all_rules():
        assert rule.name in cases, f"{rule.name} has no promtool case in tests/promtool/"
        assert True in cases[rule.name], f"{rule.name}: no case shows it firing"
        if rule.name != "Watchdog":  # always fires by design
            assert False in cases[rule.name], f"{rule.name}: no case shows it quiet"
    assert set(cases) <= {rule.name for rule in all_rules()}, "a promtool case names an alert that does not exist"


# --- the contract every rule keeps ------------------------------------------------------------------------------

@pytest.mark.parametrize("stack", STACKS)
def test_every_rule_has_for_severity_and_annotations(stack):
    rules = _rendered_rules(_render(stack))
    assert [rule["alert"] for rule in rules] == [rule.name for rule in all_rules()]
    for rule in rules:
        assert re.fullmatch(r"[0-9]+[smh]", rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        assert rule["labels"]["environment"] == stack
        for annotation in ("summary", "description", "runbook_url"):
            assert rule["annotations"].get(annotation, "").strip(), f"{rule['alert']}: no {annotation}"
        assert "${" not in rule["expr"] + str(rule["annotations"]), f"{rule['alert']}: unfilled placeholder"


def test_paging_alerts_and_heartbeat_have_the_chosen_severities():
    severities = {rule.name: rule.severity for rule in all_rules()}
    assert severities == {
        "EtlHighHttp5xxRate": "critical", "EtlRunsFailing": "warning", "EtlNoSuccessfulRun": "critical",
        "EtlLiveColorUnavailable": "critical", "SupabaseDbHighCpu": "warning", "SupabaseDbLowDisk": "critical",
        "SupabaseDbDown": "critical", "SupabaseMetricsUnreachable": "warning", "BackupDumpJobFailed": "warning",
        "BackupDumpOverdue": "warning", "Watchdog": "none",
    }


def test_durations_and_thresholds_match_the_issue():
    rules = {rule["alert"]: rule for rule in _rendered_rules(_render("production"))}
    assert rules["EtlHighHttp5xxRate"]["for"] == "5m"
    assert ") > 0.05" in rules["EtlHighHttp5xxRate"]["expr"] and "[5m]" in rules["EtlHighHttp5xxRate"]["expr"]
    assert rules["SupabaseDbHighCpu"]["for"] == "10m" and "> 0.8" in rules["SupabaseDbHighCpu"]["expr"]
    assert "< 0.1" in rules["SupabaseDbLowDisk"]["expr"] and 'mountpoint="/data"' in rules["SupabaseDbLowDisk"]["expr"]
    assert rules["SupabaseDbDown"]["expr"] == 'pg_up{job="supabase"} == 0'
    assert rules["Watchdog"]["expr"] == "vector(1)"


@pytest.mark.parametrize("stack", STACKS)
def test_every_runbook_url_is_a_page_in_docs_runbooks(stack):
    index = (RUNBOOKS / "README.md").read_text()
    for rule in _rendered_rules(_render(stack)):
        url = rule["annotations"]["runbook_url"]
        assert url.startswith(RUNBOOK_BASE_URL + "/"), url
        page = RUNBOOKS / url.removeprefix(RUNBOOK_BASE_URL + "/")
        assert page.is_file(), f"{rule['alert']}: {page.relative_to(ROOT)} does not exist"
        text = page.read_text()
        assert text.startswith(f"# {rule['alert']}\n"), f"{page.name} is not titled {rule['alert']}"
        for section in ("## Triage", "## Mitigation", "## Verification"):
            assert section in text, f"{page.name} has no {section}"
        assert f"]({page.name})" in index, f"docs/runbooks/README.md does not link {page.name}"


def test_runbooks_that_can_roll_back_say_how():
    """Where a release can be the cause, the page says to flip kingtavo:activeColor and run pulumi up."""
    for slug in ("etl-high-http-5xx-rate", "etl-runs-failing", "etl-no-successful-run",
                 "etl-live-color-unavailable", "supabase-db-high-cpu", "supabase-db-low-disk"):
        text = (RUNBOOKS / f"{slug}.md").read_text()
        assert "kingtavo:activeColor" in text and "pulumi up" in text, slug


def test_runbook_base_url_may_end_with_a_slash():
    rule = _rendered_rules(_render("staging", runbook_base_url=RUNBOOK_BASE_URL + "/"))[0]
    assert rule["annotations"]["runbook_url"] == f"{RUNBOOK_BASE_URL}/etl-high-http-5xx-rate.md"


# --- stack parameters, and independence from the live color ----------------------------------------------------

def test_rules_take_no_color_and_name_none():
    """Flipping activeColor changes two Services and two Vercel aliases, never an alert rule."""
    assert not any("color" in name for name in inspect.signature(render_rule_groups).parameters)
    text = str(_render("production"))
    assert "blue" not in text and "green" not in text


def test_live_color_rule_watches_the_live_service_in_the_etl_namespace():
    rules = {rule["alert"]: rule for rule in _rendered_rules(_render("production", etl_namespace="etl-next"))}
    live = rules["EtlLiveColorUnavailable"]
    assert 'namespace="etl-next", endpoint="etl-live", ready="true"' in live["expr"]
    assert live["labels"]["namespace"] == "etl-next"
    assert all(rules[name]["labels"]["namespace"] == "etl-next"
               for name in ("EtlHighHttp5xxRate", "EtlRunsFailing", "EtlNoSuccessfulRun"))


def test_no_success_window_follows_the_stack_setting():
    staging = {rule["alert"]: rule for rule in _rendered_rules(_render("staging"))}
    expr = staging["EtlNoSuccessfulRun"]["expr"]
    assert _no_success_hours("staging") == 12
    assert expr.count("[12h]") == 2 and "offset 12h" in expr
    assert staging["EtlNoSuccessfulRun"]["annotations"]["summary"] == "No successful ETL run for 12 hours"


def test_stacks_differ_only_in_the_environment_label():
    hours = {"etl_no_success_hours": 6}
    staging, production = _render("staging", **hours), _render("production", **hours)
    for rule in _rendered_rules(staging):
        rule["labels"]["environment"] = "production"
    assert staging == production


def test_no_success_hours_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        _render("staging", etl_no_success_hours=0)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("severity", "page", "severity 'page'"),
    ("for_", "five minutes", "is not a duration"),
    ("runbook", "Etl_Runbook", "not kebab-case"),
])
def test_a_malformed_rule_is_refused(field, value, message):
    valid = {"name": "X", "expr": "vector(1)", "for_": "1m", "severity": "warning", "summary": "s",
             "description": "d", "runbook": "x"}
    AlertRule(**valid)
    with pytest.raises(ValueError, match=message):
        AlertRule(**(valid | {field: value}))


# --- thresholds are settings ----------------------------------------------------------------------------------

def test_thresholds_default_to_the_operations_document():
    from components.core.settings import AlertingSettings, BackupsSettings

    alerting = AlertingSettings(slack_team_id="T0KINGTAVO", slack_channel_id="C0ALERTS", slack_channel_name="#a")
    backups = BackupsSettings(point_in_time_recovery=True)
    assert Thresholds.from_settings(alerting, backups) == Thresholds()
    assert (Thresholds().http_5xx_share_percent, Thresholds().http_5xx_window_minutes) == (5.0, 5)


def test_thresholds_from_settings_reach_every_rule():
    thresholds = Thresholds(http_5xx_share_percent=2.5, http_5xx_window_minutes=10, cpu_percent=90,
                            cpu_for_minutes=15, disk_free_percent=20, max_dump_age_hours=48)
    rules = {rule["alert"]: rule for rule in _rendered_rules(_render("production", thresholds=thresholds))}
    http = rules["EtlHighHttp5xxRate"]
    assert ") > 0.025" in http["expr"] and http["expr"].count("[10m]") == 3 and http["for"] == "10m"
    assert "More than 2.5% " in http["annotations"]["description"] and "last 10 minutes" in \
        http["annotations"]["description"]
    cpu = rules["SupabaseDbHighCpu"]
    assert ") > 0.9" in cpu["expr"] and cpu["for"] == "15m" and "above 90% CPU for 15 minutes" in \
        cpu["annotations"]["description"]
    assert "< 0.2" in rules["SupabaseDbLowDisk"]["expr"]
    assert rules["BackupDumpOverdue"]["expr"].count("> 172800") == 2
    assert rules["BackupDumpOverdue"]["annotations"]["summary"] == "No successful database dump for 48 hours"


@pytest.mark.parametrize("stack", STACKS)
def test_the_dump_rules_watch_the_dump_jobs_cronjob(stack):
    """The names the rules select are the ones components/backups/dump_job.py gives the CronJob."""
    from components.backups.dump_job import BackupDumpJobArgs

    assert BackupDumpJobArgs.__dataclass_fields__["namespace"].default == "db-backup"
    source = (ROOT / "components" / "backups" / "dump_job.py").read_text()
    assert 'metadata={"name": "db-backup", "namespace": identity.namespace_name' in source
    rules = {rule["alert"]: rule for rule in _rendered_rules(_render(stack))}
    assert 'namespace="db-backup", cronjob="db-backup"' in rules["BackupDumpOverdue"]["expr"]
    assert 'namespace="db-backup", job_name=~"db-backup-[0-9]+"' in rules["BackupDumpJobFailed"]["expr"]
