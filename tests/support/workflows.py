"""Parsed GitHub workflows and the small queries the workflow tests make of them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
WORKFLOWS_DIR = ROOT / ".github" / "workflows"
# etl-image.yml is the reusable image pipeline the ETL repository calls (tests/bootstrap/test_etl_image_workflow.py).
WORKFLOW_NAMES = ("ci.yml", "deploy-staging.yml", "deploy-production.yml", "drift.yml", "restore-drill.yml",
                  "etl-image.yml")
PULUMI_ACTION = "pulumi/actions"
OIDC_ACTIONS = ("pulumi/auth-actions", "aws-actions/configure-aws-credentials")
# What the GitHub environments are, as the bootstrap project declares them (tests/test_ci_contract.py proves these
# against its plan): the ones with required reviewers, the ones whose AWS_ROLE_ARN is a deploy role, and the
# prefixes of the ones whose AWS_ROLE_ARN is a read-only preview role.
REVIEWED_ENVIRONMENTS = frozenset({"production", "preview-production"})
DEPLOY_ENVIRONMENTS = frozenset({"staging", "production"})
READ_ONLY_ENVIRONMENTS = ("preview-", "drift-")

Workflow = dict[str, Any]
Job = dict[str, Any]
Step = dict[str, Any]


def load_workflow(path: Path) -> Workflow:
    """A parsed workflow. PyYAML reads the key `on` as the boolean True (YAML 1.1): put it back."""
    parsed = yaml.safe_load(path.read_text())
    if True in parsed:
        parsed["on"] = parsed.pop(True)
    return parsed


def load_all() -> dict[str, Workflow]:
    return {name: load_workflow(WORKFLOWS_DIR / name) for name in WORKFLOW_NAMES}


def jobs_of(workflow: Workflow) -> dict[str, Job]:
    return workflow["jobs"]


def all_jobs(workflows: dict[str, Workflow]) -> Iterator[tuple[str, str, Job]]:
    for name, workflow in workflows.items():
        for job_id, job in jobs_of(workflow).items():
            yield name, job_id, job


def uses_of(step: Step) -> str:
    """The action a step uses, without its ref ("" for a `run:` step)."""
    return step.get("uses", "").split("@")[0]


def steps_using(job: Job, action: str) -> list[Step]:
    return [step for step in job.get("steps", []) if uses_of(step) == action]


def pulumi_command_steps(job: Job, command: str) -> list[Step]:
    return [step for step in steps_using(job, PULUMI_ACTION) if step.get("with", {}).get("command") == command]


def step_index(job: Job, predicate: Callable[[Step], bool]) -> int:
    """The position of the first step matching the predicate (fails the test when there is none)."""
    for index, step in enumerate(job["steps"]):
        if predicate(step):
            return index
    raise AssertionError("no step matches")


def runs(fragment: str) -> Callable[[Step], bool]:
    return lambda step: fragment in step.get("run", "")


def is_pulumi(command: str) -> Callable[[Step], bool]:
    return lambda step: uses_of(step) == PULUMI_ACTION and step.get("with", {}).get("command") == command


def stack_of(step: Step) -> str:
    return step["with"]["stack-name"].rsplit("/", 1)[-1]


def environment_of(job: Job) -> str | None:
    environment = job.get("environment")
    return environment.get("name") if isinstance(environment, dict) else environment


def holds_credentials(job: Job) -> bool:
    """Whether a job can reach a secret or a cloud identity: environment secrets, `secrets.*`, an OIDC token."""
    text = yaml.safe_dump(job)
    return ("secrets." in text or job.get("permissions", {}).get("id-token") == "write"
            or environment_of(job) is not None)
