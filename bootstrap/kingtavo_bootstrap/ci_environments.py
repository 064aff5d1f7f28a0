"""The GitHub environments CI jobs run in: one table for the roles' trust, the environments and their variables.

This is the contract with `.github/workflows/`: every job there that assumes an AWS role runs in one of
these environments and reads the role as `vars.AWS_ROLE_ARN` (and `vars.AWS_REGION`), variables set in
that environment only, so a job sees the role of its own environment and no other. From the same rows:

- `CiIdentity` makes each role trust exactly the OIDC subjects `repo:<repository>:environment:<name>` of
  the environments that hold it (the preview role: the preview and the drift environment of its stack);
- `RepositorySettings` declares every environment, with its reviewers and deployment refs;
- `WorkflowVariables` sets `AWS_ROLE_ARN` / `AWS_REGION` in each, from the role itself.

tests/test_ci_contract.py reads the workflows and the bootstrap plans and proves the two sides agree.

Deployment refs are matched by GitHub against the run's `GITHUB_REF` (branch patterns against the branch
name, `*` never matching `/`). A `pull_request` run's ref is `refs/pull/<number>/merge`, which GitHub lets
a branch rule `refs/pull/*/merge` admit (its documented way to let pull requests into an environment), so
the preview environments admit pull-request runs only: a workflow pushed on a feature branch cannot enter
them. Drift, restore drill and staging deploys come from `main`; production from `main` and `v*.*.*` tags.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from kingtavo_bootstrap.settings import ENVIRONMENTS as STACKS

PULL_REQUEST_REF = "refs/pull/*/merge"
# The operations document: "Monthly practice restore on staging" (.github/workflows/restore-drill.yml).
RESTORE_DRILL_STACKS = ("staging",)

RolePurpose = Literal["preview", "deploy", "restore-drill"]


@dataclass(frozen=True)
class CiEnvironment:
    name: str
    stack: str  # the bootstrap stack whose role the environment holds
    role: RolePurpose
    reviewed: bool  # required reviewers (github.reviewerTeams), no self-review, no admin bypass
    branches: tuple[str, ...]  # deployment branch patterns
    tags: tuple[str, ...] = ()  # deployment tag patterns


def ci_environments(stack: str) -> list[CiEnvironment]:
    """The environments whose jobs assume this stack's roles."""
    if stack not in STACKS:
        raise ValueError(f"stack {stack!r}: expected one of {', '.join(STACKS)}")
    production = stack == "production"
    environments = [
        # previews run the pull request's program: production's only after a reviewer approves the run
        CiEnvironment(f"preview-{stack}", stack, "preview", reviewed=production, branches=(PULL_REQUEST_REF,)),
        CiEnvironment(f"drift-{stack}", stack, "preview", reviewed=False, branches=("main",)),
        CiEnvironment(stack, stack, "deploy", reviewed=production, branches=("main",),
                      tags=("v*.*.*",) if production else ()),
    ]
    if stack in RESTORE_DRILL_STACKS:
        environments.append(CiEnvironment(f"restore-drill-{stack}", stack, "restore-drill", reviewed=False,
                                          branches=("main",)))
    return environments


def all_ci_environments() -> list[CiEnvironment]:
    """Every environment of every stack: what the stack managing the repository's settings declares."""
    return [environment for stack in STACKS for environment in ci_environments(stack)]


def environments_of(stack: str, role: RolePurpose) -> list[str]:
    """The environments whose jobs assume this stack's role of that purpose (its trusted subjects)."""
    return [environment.name for environment in ci_environments(stack) if environment.role == role]
