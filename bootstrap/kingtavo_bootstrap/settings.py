"""Typed, validated settings of the bootstrap project (`kingtavo-bootstrap:*`), read once.

Like the main program's `components/settings.py`: every key is validated with pydantic before any
resource is declared, and `BootstrapSettingsError` lists every problem at once, each naming its full
key (`kingtavo-bootstrap:github.repository: 'infra' is not owner/name`). A bootstrap stack serves one
main stack (its environment, the stack name); a few things exist once per AWS account or once
per GitHub repository, and exactly one stack declares each of them:

- `createOidcProvider`: the account's GitHub Actions OIDC provider (IAM allows one per URL and account);
- `registry.manage`: the shared ETL registry and its image-push role;
- `github.manageRepositorySettings`: the GitHub environments and rulesets of the repository.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

PROJECT = "kingtavo-bootstrap"
ENVIRONMENTS = ("staging", "production")

AccountId = Annotated[str, Field(pattern=r"^[0-9]{12}$")]
RepositoryName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
GitRefPattern = Annotated[str, Field(pattern=r"^refs/(heads|tags)/[A-Za-z0-9._/*-]+$")]
KmsKeyArn = Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]{36}$")]
RoleNamePattern = Annotated[str, Field(pattern=r"^[A-Za-z0-9+=,.@_*-]{1,64}$")]
REQUIRED_CHECKS = ("Lint", "Test suite", "Policy gate (offline, base branch's pack)", "Preview staging",
                   "Preview production (after approval)")


class BootstrapSettingsError(Exception):
    """Every problem found in the bootstrap settings, one `kingtavo-bootstrap:<key>: <expected>` per line."""

    def __init__(self, problems: list[str]):
        self.problems = sorted(set(problems))
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"invalid bootstrap settings ({len(self.problems)} problem(s)):\n{lines}")


class Plane(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)


class GithubSettings(Plane):
    """The repository CI runs in, the ETL repository that pushes images, and the repository's gates."""

    repository: RepositoryName = "kingtavo/infrastructure"
    etl_repository: RepositoryName = "kingtavo/etl"
    # Refs of the ETL repository whose workflows may push images: its main branch and release tags.
    etl_push_refs: list[GitRefPattern] = Field(default_factory=lambda: ["refs/heads/main", "refs/tags/v*"],
                                               min_length=1)
    # The one workflow (in this repository) whose jobs may push: the ETL repository's OIDC subjects then carry
    # `job_workflow_ref`, so no other workflow of the ETL repository can assume the push role. false: any workflow.
    etl_push_workflow: Annotated[str, Field(pattern=r"^\.github/workflows/[A-Za-z0-9_.-]+\.ya?ml$")] | Literal[
        False] = ".github/workflows/etl-image.yml"
    manage_repository_settings: bool = False
    reviewer_teams: list[Slug] = Field(default_factory=list)
    release_team: Slug | None = None
    # The names of ci.yml's jobs, as GitHub reports them as checks (tests/test_ci_contract.py compares them).
    # The GitHub environments and the roles' OIDC subjects are no setting: ci_environments.py fixes them, as the
    # workflows do.
    required_checks: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=lambda: list(REQUIRED_CHECKS))

    @model_validator(mode="after")
    def _gates(self) -> GithubSettings:
        problems = []
        if self.manage_repository_settings and not self.reviewer_teams:
            problems.append("reviewerTeams: at least one team must approve production (manageRepositorySettings "
                            "is true)")
        if self.manage_repository_settings and self.release_team is None:
            problems.append("releaseTeam: the team allowed to push v* tags is required (manageRepositorySettings "
                            "is true)")
        if self.manage_repository_settings and len(set(self.required_checks)) != len(self.required_checks):
            problems.append("requiredChecks: a check is listed twice")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @property
    def owner(self) -> str:
        return self.repository.split("/")[0]

    @property
    def name(self) -> str:
        return self.repository.split("/")[1]


class RegistrySettings(Plane):
    """The shared ETL image registry (declared by the stack with manage: true)."""

    manage: bool = False
    repository_name: str = Field("kingtavo/etl", pattern=r"^[a-z0-9]+(?:[._/-][a-z0-9]+)*$")
    push_role_name: RoleNamePattern = "kingtavo-ci-etl-image-push"
    # Accounts whose clusters pull, each limited to the node roles matching these names.
    pull_accounts: list[AccountId] = Field(default_factory=list)
    node_role_name_patterns: list[RoleNamePattern] = Field(default_factory=lambda: ["cluster-node-role-*"],
                                                           min_length=1)
    keep_release_images: int = Field(60, ge=2, le=1000)
    untagged_expiry_days: int = Field(7, ge=1, le=365)


class StackAccessSettings(Plane):
    """What the CI roles of this environment may touch."""

    # Set when the main stack's secrets provider is an AWS KMS key (awskms://); Pulumi Cloud's default needs none.
    secrets_provider_key_arn: KmsKeyArn | None = None


@dataclass(frozen=True)
class BootstrapSettings:
    environment: Literal["staging", "production"]
    account_id: str
    region: str
    create_oidc_provider: bool
    github: GithubSettings
    registry: RegistrySettings
    access: StackAccessSettings

    @property
    def is_production(self) -> bool:
        return self.environment == "production"


PLANES: dict[str, type[Plane]] = {"github": GithubSettings, "registry": RegistrySettings, "access": StackAccessSettings}
SCALARS = ("accountId", "createOidcProvider")
ConfigReader = Callable[[str], Any]


def _problem_lines(prefix: str, error: Mapping[str, Any]) -> list[str]:
    location = ".".join(str(part) for part in error["loc"])
    key = f"{prefix}.{location}" if location else prefix
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "missing":
        return [f"{key}: is required"]
    if error["type"] == "extra_forbidden":
        return [f"{key}: is not a known setting (check the spelling against bootstrap/Pulumi.yaml)"]
    if error["type"] == "value_error" and re.match(r"^[a-z][A-Za-z]*: ", message):
        return [f"{key}.{line}" for line in message.splitlines()]
    return [f"{key}: {message} (got {error.get('input')!r})"]


def _decode(raw: Any) -> Any:
    import json

    if isinstance(raw, str) and raw.strip()[:1] in "{[":
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def load(stack: str, read: ConfigReader, region: str | None, present_keys: list[str] = ()) -> BootstrapSettings:
    """Validate every `kingtavo-bootstrap:*` key; raise BootstrapSettingsError naming each bad key."""
    problems: list[str] = []
    if stack not in ENVIRONMENTS:
        problems.append(f"stack {stack!r}: expected one of {', '.join(ENVIRONMENTS)} (a bootstrap stack serves the "
                        f"main stack of the same name)")
    known = {f"{PROJECT}:{key}" for key in (*PLANES, *SCALARS)}
    problems += [f"{key}: is not a known setting (check the spelling against bootstrap/Pulumi.yaml)"
                 for key in sorted(set(present_keys) - known) if key.startswith(f"{PROJECT}:")]
    account = read(f"{PROJECT}:accountId")
    if account is None or not re.fullmatch(r"[0-9]{12}", str(account)):
        problems.append(f"{PROJECT}:accountId: {'is required' if account is None else repr(account) + ' is not'} "
                        f"a 12-digit AWS account id")
    create_provider = _decode(read(f"{PROJECT}:createOidcProvider"))
    if create_provider not in (True, False, "true", "false"):
        problems.append(f"{PROJECT}:createOidcProvider: expected true or false (does this stack declare the "
                        f"account's GitHub OIDC provider?)")
    if not region:
        problems.append("aws:region: is required")
    planes: dict[str, Plane | None] = {}
    raw: dict[str, Any] = {}
    for name, model in PLANES.items():
        raw[name] = _decode(read(f"{PROJECT}:{name}"))
        try:
            planes[name] = model.model_validate({} if raw[name] is None else raw[name])
        except ValidationError as error:
            planes[name] = None
            for e in error.errors():
                problems += _problem_lines(f"{PROJECT}:{name}", e)
    # Checks across planes read the raw values, so that they run even when a plane has other problems.
    raw_registry = raw["registry"] if isinstance(raw["registry"], Mapping) else {}
    if raw_registry.get("manage") in (True, "true") and not raw_registry.get("pullAccounts"):
        problems.append(f"{PROJECT}:registry.pullAccounts: list the accounts whose clusters pull (at least one)")
    github, registry, access = planes["github"], planes["registry"], planes["access"]
    if problems:
        raise BootstrapSettingsError(problems)
    return BootstrapSettings(environment=stack, account_id=str(account), region=str(region),  # type: ignore[arg-type]
                             create_oidc_provider=create_provider in (True, "true"),
                             github=github, registry=registry, access=access)  # type: ignore[arg-type]
