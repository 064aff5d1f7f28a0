"""drift.yml and the deploys' stack health check: their shape, and their scripts run for real.

The drift job's preview and report steps are run by bash as GitHub runs them, with a stand-in `pulumi` that
prints a preview digest (routing drift, a clean stack, a failure that printed nothing) and the real
`tools.drift`; the deploys' health step with a stand-in `pulumi stack export` that writes a crafted state and
the real `tools.state_check`.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.workflows import ROOT, Workflow, jobs_of, load_all, runs, step_index, steps_using, uses_of

RUNBOOK = "docs/runbooks/failed-update.md"
WRITE_COMMANDS = re.compile(r"pulumi\s+(up|refresh|destroy|import|state|cancel|stack\s+import|config\s+set)\b")
ALIAS_URN = ("urn:pulumi:production::kingtavo::kingtavo:frontend:VercelFrontend$vercel:index/alias:Alias::"
             "frontend-live-alias")


@pytest.fixture(scope="module")
def workflows() -> dict[str, Workflow]:
    return load_all()


@pytest.fixture(scope="module")
def drift_job(workflows):
    return jobs_of(workflows["drift.yml"])["drift"]


def named(job, fragment: str):
    return job["steps"][step_index(job, lambda step: fragment in step.get("name", ""))]


def test_drift_runs_nightly_and_on_demand_per_stack(workflows, drift_job):
    on = workflows["drift.yml"]["on"]
    (schedule,) = on["schedule"]
    minute, hour, *rest = schedule["cron"].split()
    assert minute.isdigit() and hour.isdigit() and rest == ["*", "*", "*"]
    assert on["workflow_dispatch"]["inputs"]["stack"]["options"] == ["both", "staging", "production"]
    assert drift_job["strategy"]["fail-fast"] is False
    assert "'[\"staging\", \"production\"]'" in drift_job["strategy"]["matrix"]["stack"]
    assert drift_job["environment"]["name"] == "drift-${{ matrix.stack }}"
    # not the deploys' group: a queued check must never cancel a queued deploy
    assert drift_job["concurrency"] == {"group": "drift-${{ matrix.stack }}", "cancel-in-progress": False}


def test_drift_uses_only_read_only_credentials_and_writes_nothing(workflows, drift_job):
    assert drift_job["permissions"] == {"contents": "read", "id-token": "write"}
    (aws,) = steps_using(drift_job, "aws-actions/configure-aws-credentials")
    # drift-<stack>'s own variable, the stack's read-only preview role (tests/test_ci_contract.py resolves it)
    assert aws["with"]["role-to-assume"] == "${{ vars.AWS_ROLE_ARN }}"
    (pulumi_login,) = steps_using(drift_job, "pulumi/auth-actions")
    assert pulumi_login["with"]["scope"] == "team:ci-preview"
    text = (ROOT / ".github" / "workflows" / "drift.yml").read_text()
    assert "DEPLOY" not in text
    for step in drift_job["steps"]:
        assert not WRITE_COMMANDS.search(step.get("run", "")), step.get("name")
        assert step.get("with", {}).get("command") in (None, "preview")


def test_drift_previews_refreshed_with_the_policy_pack_then_reports_warns_records_and_fails(drift_job):
    preview = named(drift_job, "pulumi preview")["run"]
    for flag in ("--refresh", "--expect-no-changes", "--diff", "--json",
                 "--policy-pack policies", "--policy-pack-config policies/pack-config.json"):
        assert flag in preview, flag
    order = [step_index(drift_job, runs("make venv")), step_index(drift_job, runs("pulumi preview")),
             step_index(drift_job, runs("tools.drift report")), step_index(drift_job, runs("tools.drift post")),
             step_index(drift_job, runs("tools.ops_record drift")), step_index(drift_job, runs("exit 1"))]
    assert order == sorted(order)
    slack, record, fail = (named(drift_job, n) for n in ("Slack", "Record", "Fail"))
    assert slack["if"] == fail["if"] == "steps.report.outputs.status != 'clean'"
    assert slack["env"] == {"SLACK_WEBHOOK_URL": "${{ secrets.SLACK_WEBHOOK_URL }}"}
    # recorded whatever the outcome (clean included), even when Slack refused the message
    assert record["if"] == "always() && steps.report.outputs.status != ''"
    assert '--status "$STATUS"' in record["run"] and "--report" in record["run"]
    assert record["env"]["STATUS"] == "${{ steps.report.outputs.status }}"


def digest(*steps: dict) -> str:
    return json.dumps({"steps": [{"op": "same", "urn": "urn:pulumi:production::kingtavo::pulumi:pulumi:Stack::k"},
                                 *steps], "changeSummary": {}})


@pytest.mark.parametrize(("preview_json", "pulumi_exit", "status"), [
    (digest({"op": "update", "urn": ALIAS_URN, "detailedDiff": {"deploymentId": {"kind": "update"}},
             "newState": {"inputs": {"deploymentId": "VALUE"}}}), 255, "critical"),
    (digest({"op": "same", "urn": ALIAS_URN}), 0, "clean"),
    ("", 255, "error"),
])
def test_the_drift_steps_run_for_real(drift_job, tmp_path, preview_json, pulumi_exit, status):
    value = "fake-" + secrets.token_hex(8)
    preview_json = preview_json.replace("VALUE", value)
    bin_dir, runner = tmp_path / "bin", tmp_path / "runner"
    bin_dir.mkdir()
    runner.mkdir()
    (tmp_path / "digest.json").write_text(preview_json)
    (bin_dir / "pulumi").write_text(f'#!/bin/sh\necho "$@" > "{tmp_path}/args"\ncat "{tmp_path}/digest.json"\n'
                                    f"exit {pulumi_exit}\n")
    (bin_dir / "pulumi").chmod(0o755)
    output, summary = tmp_path / "github_output", tmp_path / "summary"
    output.write_text("")
    env = {"PATH": f"{bin_dir}:{Path(sys.executable).parent}:/usr/bin:/bin", "RUNNER_TEMP": str(runner),
           "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary), "STACK": "production",
           "RUN_URL": "https://github.example/runs/1", "RUNBOOK_URL": f"https://github.example/blob/main/{RUNBOOK}"}

    def run(step, **extra):
        return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=ROOT,
                              env={**env, **extra}, capture_output=True, text=True, timeout=120)

    preview = run(named(drift_job, "pulumi preview"))
    assert preview.returncode == 0, preview.stderr  # a drift does not stop the job before the report
    assert "preview --stack kingtavo/kingtavo/production --refresh" in (tmp_path / "args").read_text()
    assert f"exit-code={pulumi_exit}" in output.read_text()
    report = run(named(drift_job, "Drift report"), PREVIEW_EXIT_CODE=str(pulumi_exit))
    assert report.returncode == 0, report.stderr
    assert output.read_text().splitlines()[-1] == f"status={status}"
    assert f"drift check of production: {status.upper() if status != 'clean' else 'clean'}" in summary.read_text()
    written = (runner / "drift.json").read_text() + (runner / "slack.json").read_text() + summary.read_text()
    assert value not in written
    if status == "critical":
        assert "CRITICAL" in json.loads((runner / "slack.json").read_text())["text"]


# --- the deploys refuse an unhealthy stack ------------------------------------------------------------------

def state(pending: list[dict]) -> dict:
    resource = {"urn": ALIAS_URN, "custom": True, "type": "vercel:index/alias:Alias", "inputs": {}}
    return {"version": 3, "deployment": {"manifest": {}, "resources": [resource], "pending_operations": pending}}


@pytest.mark.parametrize("workflow", ["deploy-staging.yml", "deploy-production.yml"])
@pytest.mark.parametrize(("pending", "code"), [([], 0), ([{"type": "creating", "resource": {"urn": ALIAS_URN}}], 1)])
def test_the_deploy_stops_on_an_unhealthy_stack_with_the_runbook(workflows, tmp_path, workflow, pending, code):
    deploy = jobs_of(workflows[workflow])["deploy"]
    health = named(deploy, "Stack health")
    stack = workflow.removeprefix("deploy-").removesuffix(".yml")
    # before any cloud credential and before the update
    assert step_index(deploy, runs("tools.state_check")) < step_index(
        deploy, lambda step: uses_of(step) == "aws-actions/configure-aws-credentials")
    assert health["env"]["RUNBOOK_URL"].endswith(f"/blob/${{{{ github.sha }}}}/{RUNBOOK}")

    bin_dir, runner = tmp_path / "bin", tmp_path / "runner"
    bin_dir.mkdir()
    runner.mkdir()
    (tmp_path / "state.json").write_text(json.dumps(state(pending)))
    (bin_dir / "pulumi").write_text(
        "#!/bin/sh\n"
        f'echo "$@" > "{tmp_path}/args"\n'
        'while [ $# -gt 0 ]; do [ "$1" = --file ] && out="$2"; shift; done\n'
        f'cp "{tmp_path}/state.json" "$out"\n')
    (bin_dir / "pulumi").chmod(0o755)
    runbook = f"https://github.example/kingtavo/blob/abc123/{RUNBOOK}"
    done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", health["run"]], cwd=ROOT,
                          env={"PATH": f"{bin_dir}:/usr/bin:/bin", "RUNNER_TEMP": str(runner),
                               "RUNBOOK_URL": runbook, "GITHUB_ACTIONS": "true"},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == code, done.stdout + done.stderr
    assert (tmp_path / "args").read_text().split() == ["stack", "export", "--stack", f"kingtavo/kingtavo/{stack}",
                                                       "--file", str(runner / f"{stack}-state.json")]
    assert list(runner.iterdir()) == []  # the exported state does not outlive the step
    if code:
        assert f"stack {stack}: NOT healthy" in done.stdout and runbook in done.stdout
        assert "::error title=Stack" in done.stdout
    else:
        assert "healthy (1 resources" in done.stdout
