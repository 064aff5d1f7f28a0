"""The pull-request trust boundary, read from the parsed workflows (and the scripts they run, run for real).

- no trigger hands pull-request code the repository's secrets (`pull_request_target`, `workflow_run`);
- fork pull requests run no preview and reach no credential;
- no job that runs pull-request code reaches production's credentials without a reviewed environment; the
  checker is also shown planted workflows that break the rule, so it can fail;
- the policy pack judging a pull request is the base branch's, checked out into a separate path before any of
  the pull request's code runs, and a change to `policies/` is judged by both packs: the offline gate's
  scripts are run in a sandbox with a stand-in interpreter that records which pack it saw;
- CODEOWNERS covers the paths that decide what judges, deploys or guards the platform.
"""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path

import pytest

from tests.support.workflows import (
    DEPLOY_ENVIRONMENTS,
    PULUMI_ACTION,
    REVIEWED_ENVIRONMENTS,
    ROOT,
    Job,
    Workflow,
    all_jobs,
    environment_of,
    holds_credentials,
    jobs_of,
    load_all,
    runs,
    step_index,
    steps_using,
    uses_of,
)

SAME_REPOSITORY = "github.event.pull_request.head.repo.full_name == github.repository"
BASE_REF = "${{ github.event.pull_request.base.sha }}"
BASE_PATH = "trusted-base"
MAINTAINERS = "@kingtavo/platform-maintainers"


@pytest.fixture(scope="module")
def workflows() -> dict[str, Workflow]:
    return load_all()


def triggers(workflow: Workflow) -> set[str]:
    on = workflow["on"]
    return {on} if isinstance(on, str) else set(on)


def runs_pull_request_code(workflow: Workflow) -> bool:
    return "pull_request" in triggers(workflow)


def touches_production(job: Job) -> bool:
    """Whether a job can reach production: its environment, its AWS role, or a production stack."""
    text = str(job)
    return ("production" in (environment_of(job) or "") or "PRODUCTION" in text
            or "kingtavo/kingtavo/production" in text)


def production_exposure(workflow: Workflow) -> list[str]:
    """Jobs of a pull-request workflow that break the boundary (empty when it holds)."""
    problems = []
    for job_id, job in jobs_of(workflow).items():
        if holds_credentials(job) and job.get("if") != SAME_REPOSITORY:
            problems.append(f"{job_id}: holds credentials but also runs for fork pull requests")
        if touches_production(job) and environment_of(job) not in REVIEWED_ENVIRONMENTS:
            problems.append(f"{job_id}: reaches production without a reviewed environment")
        if environment_of(job) in DEPLOY_ENVIRONMENTS:
            problems.append(f"{job_id}: a pull request must never hold a deploy environment (its role deploys)")
    return problems


# --- triggers and forks -------------------------------------------------------------------------------------

def test_no_trigger_hands_pull_request_code_the_repository_secrets(workflows):
    for name, workflow in workflows.items():
        assert not triggers(workflow) & {"pull_request_target", "workflow_run"}, name
    assert [name for name, workflow in workflows.items() if runs_pull_request_code(workflow)] == ["ci.yml"]


def test_fork_pull_requests_run_no_preview_and_reach_no_credential(workflows):
    jobs = jobs_of(workflows["ci.yml"])
    previews = {job_id for job_id, job in jobs.items() if steps_using(job, PULUMI_ACTION)}
    assert previews == {"preview-staging", "preview-production"}
    for job_id, job in jobs.items():
        if job_id in previews:
            assert job["if"] == SAME_REPOSITORY, job_id
        else:  # what forks do run: lint, tests, the offline gate, with nothing to take
            assert not holds_credentials(job), job_id
            assert job["permissions"] == {"contents": "read"}, job_id


# --- production needs an approval ---------------------------------------------------------------------------

def test_no_job_running_pull_request_code_reaches_production_without_an_approval(workflows):
    for name, workflow in workflows.items():
        if runs_pull_request_code(workflow):
            assert production_exposure(workflow) == [], name
    production_preview = jobs_of(workflows["ci.yml"])["preview-production"]
    assert environment_of(production_preview) == "preview-production"


def test_the_approval_environment_is_not_the_deploy_environment(workflows):
    by_environment = {environment_of(job): (name, job_id) for name, job_id, job in all_jobs(workflows)
                      if environment_of(job)}
    assert by_environment["preview-production"] == ("ci.yml", "preview-production")
    assert by_environment["production"] == ("deploy-production.yml", "deploy")


@pytest.mark.parametrize("break_it", ["drop the environment", "staging's environment", "deploy environment",
                                      "staging's deploy environment", "run for forks"])
def test_the_boundary_check_catches_a_planted_break(workflows, break_it):
    planted = copy.deepcopy(workflows["ci.yml"])
    job = jobs_of(planted)["preview-production"]
    if break_it == "drop the environment":
        del job["environment"]
    elif break_it == "staging's environment":
        job["environment"] = {"name": "preview-staging"}
    elif break_it == "deploy environment":
        job["environment"] = {"name": "production"}
    elif break_it == "staging's deploy environment":
        job = jobs_of(planted)["preview-staging"]
        job["environment"] = {"name": "staging"}
    else:
        del job["if"]
    assert production_exposure(planted), break_it


def test_tools_that_run_main_only_are_not_reachable_from_other_refs(workflows):
    """Scheduled and manual workflows that hold read credentials judge main, never a branch someone pushed."""
    drift = workflows["drift.yml"]
    assert triggers(drift) == {"schedule", "workflow_dispatch"}
    assert jobs_of(drift)["drift"]["if"] == "github.ref == 'refs/heads/main'"
    production = jobs_of(workflows["deploy-production.yml"])["deploy"]
    assert production["if"] == "github.ref_type == 'tag' || github.ref == 'refs/heads/main'"


# --- the base branch's pack -----------------------------------------------------------------------------

def is_base_checkout(step) -> bool:
    return uses_of(step) == "actions/checkout" and step.get("with", {}).get("ref") == BASE_REF


def first_pull_request_code(job: Job) -> int:
    """The first step that runs the pull request's own files (its Makefile builds the program's virtualenv)."""
    return step_index(job, runs("make venv"))


def test_the_pack_comes_from_the_base_branch_checked_out_before_any_pull_request_code(workflows):
    jobs = jobs_of(workflows["ci.yml"])
    for job_id in ("policy-gate", "preview-staging", "preview-production"):
        job = jobs[job_id]
        (base,) = [step for step in job["steps"] if is_base_checkout(step)]
        assert base["with"]["path"] == BASE_PATH and base["with"]["persist-credentials"] is False
        assert job["steps"].index(base) < first_pull_request_code(job), job_id
        packs = job["steps"][step_index(job, lambda step: step.get("id") == "packs")]
        assert "diff -rq trusted-base/policies policies" in packs["run"]
    for job_id in ("preview-staging", "preview-production"):
        job = jobs[job_id]
        # the base pack's interpreter is built from the base branch's requirements, before the pull request's code
        venv = step_index(job, runs("python -m venv trusted-base/.venv"))
        assert "-r trusted-base/policies/requirements.txt" in job["steps"][venv]["run"]
        assert venv < first_pull_request_code(job)
        base_preview, own_preview = [step for step in job["steps"] if step.get("with", {}).get("command")]
        assert base_preview["with"]["policyPacks"] == f"{BASE_PATH}/policies" and "if" not in base_preview
        assert base_preview["with"]["policyPackConfigs"] == f"{BASE_PATH}/policies/pack-config.json"
        assert own_preview["with"]["policyPacks"] == "policies"
        assert own_preview["if"] == "steps.packs.outputs.changed == 'true'"


def test_the_base_pack_finds_its_interpreter_where_it_is_built():
    """PulumiPolicy.yaml names its virtualenv relative to the pack: trusted-base/policies/../.venv."""
    import yaml

    pack = yaml.safe_load((ROOT / "policies" / "PulumiPolicy.yaml").read_text())
    assert pack["runtime"]["options"]["virtualenv"] == "../.venv"


def gate_step(workflows, fragment: str):
    job = jobs_of(workflows["ci.yml"])["policy-gate"]
    return job["steps"][step_index(job, lambda step: fragment in step.get("name", ""))]


@pytest.fixture
def sandbox(tmp_path) -> Path:
    """A checkout with a pull-request pack and the base pack, and a stand-in for .venv/bin/python.

    The stand-in records which pack `python -m tools.plan --stack S` ran with and fails (a mandatory
    violation) when the base rules judge production, as when a pull request weakened a rule it breaks.
    """
    work = tmp_path / "work"
    for pack, marker in (("policies", "pull-request-rules"), ("trusted-base/policies", "base-rules")):
        (work / pack).mkdir(parents=True)
        (work / pack / "secret_hygiene.py").write_text(f"RULES = {marker!r}\n")
    (work / ".venv" / "bin").mkdir(parents=True)
    stand_in = work / ".venv" / "bin" / "python"
    stand_in.write_text('#!/bin/sh\n'
                        'rules="$(cat policies/secret_hygiene.py)"\n'
                        'echo "$4 $rules" >> "$GATE_LOG"\n'
                        'case "$4 $rules" in "production RULES = \'base-rules\'") exit 1 ;; esac\n')
    stand_in.chmod(0o755)
    (tmp_path / "runner").mkdir()
    return work


def run_step(script: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """A `run:` script as GitHub runs it (`bash --noprofile --norc -eo pipefail`)."""
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=cwd,
                          env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True, timeout=60)


def test_the_offline_gate_judges_with_the_base_pack_then_puts_the_pull_requests_back(workflows, sandbox):
    log, output = sandbox.parent / "gate.log", sandbox.parent / "github_output"
    output.write_text("")
    env = {"GATE_LOG": str(log), "RUNNER_TEMP": str(sandbox.parent / "runner"), "GITHUB_OUTPUT": str(output)}

    packs = run_step(gate_step(workflows, "change the policy pack")["run"], sandbox, **env)
    assert packs.returncode == 0 and output.read_text() == "changed=true\n"

    base = run_step(gate_step(workflows, "base branch's pack")["run"], sandbox, **env)
    assert base.returncode == 1  # production breaks a base rule: the gate fails even though the PR's pack passes
    assert log.read_text().splitlines() == ["staging RULES = 'base-rules'", "production RULES = 'base-rules'"]
    assert (sandbox / "policies" / "secret_hygiene.py").read_text() == "RULES = 'pull-request-rules'\n"

    log.write_text("")
    own = run_step(gate_step(workflows, "this pull request's pack")["run"], sandbox, **env)
    assert own.returncode == 0
    assert log.read_text().splitlines() == ["staging RULES = 'pull-request-rules'",
                                            "production RULES = 'pull-request-rules'"]


def test_an_unchanged_pack_is_judged_once(workflows, sandbox):
    (sandbox / "policies" / "secret_hygiene.py").write_text("RULES = 'base-rules'\n")
    output = sandbox.parent / "github_output"
    output.write_text("")
    done = run_step(gate_step(workflows, "change the policy pack")["run"], sandbox, GITHUB_OUTPUT=str(output))
    assert done.returncode == 0 and output.read_text() == "changed=false\n"
    assert gate_step(workflows, "this pull request's pack")["if"] == "steps.packs.outputs.changed == 'true'"


# --- CODEOWNERS ----------------------------------------------------------------------------------------------

def codeowners_rules() -> list[tuple[str, list[str]]]:
    rules = []
    for line in (ROOT / ".github" / "CODEOWNERS").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            pattern, *owners = line.split()
            rules.append((pattern, owners))
    return rules


def owners_of(path: str) -> list[str]:
    """The last matching rule wins, as GitHub reads CODEOWNERS (the subset of patterns this file uses)."""
    found: list[str] = []
    for pattern, owners in codeowners_rules():
        if pattern == "*" or (pattern.endswith("/") and f"/{path}".startswith(pattern)) or f"/{path}" == pattern:
            found = owners
    return found


def test_codeowners_uses_only_patterns_this_test_understands_and_team_owners():
    rules = codeowners_rules()
    assert rules[0] == ("*", ["@kingtavo/platform"])
    for pattern, owners in rules:
        assert pattern == "*" or pattern.startswith("/"), pattern
        assert owners and all(owner.startswith("@kingtavo/") for owner in owners), pattern


@pytest.mark.parametrize("path", [
    "policies/secret_hygiene.py", "policies/pack-config.json", ".github/workflows/ci.yml", ".github/CODEOWNERS",
    "Pulumi.production.yaml", "bootstrap/__main__.py", "bootstrap/Pulumi.yaml", "esc/production.yaml",
    "supabase/migrations/20250101000000_ops.sql", "Makefile", ".ci/run", "tools/policy_gate.py",
])
def test_codeowners_require_the_maintainers_on_the_trust_boundary(path):
    assert owners_of(path) == [MAINTAINERS], path


@pytest.mark.parametrize("path", ["Pulumi.staging.yaml", "components/frontend.py", "README.md"])
def test_everything_else_is_owned_by_the_platform_team(path):
    assert owners_of(path) == ["@kingtavo/platform"]
