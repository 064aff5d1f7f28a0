"""The contract between the workflows and the bootstrap project, read from both sides.

The workflows (.github/workflows) say which GitHub environment each job runs in and which variables name its
AWS role and region; the offline plans of both bootstrap stacks (`bootstrap.plan`) say which environments exist
with which deployment refs and reviewers, which variables each holds, and which OIDC subjects each role trusts.
A real run assumes its role only when all of them agree, so this proves they do:

- every job that assumes an AWS role from a variable runs in a GitHub environment; GitHub resolves the variable
  there (environment first, then repository) to a role one bootstrap stack declares, and that role trusts the
  job's OIDC subject `repo:kingtavo/infrastructure:environment:<env>` for the STS audience;
- every role trusts exactly the environments whose jobs assume it: no subject without a job, none outside an
  environment (no `pull_request` or branch subjects);
- every environment a workflow names is declared by the bootstrap, and every declared one is used;
- each environment admits exactly the refs its workflows run on, matched as GitHub documents it (the rule against
  `GITHUB_REF`, branch rules on the branch name, `*` never matching `/`; a pull request's ref is
  `refs/pull/<n>/merge`): previews pull requests only, drift, staging and the drill `main`, production `main`
  and release tags; a feature branch enters none;
- the constants the other workflow tests judge by (reviewed, deploy and read-only environments) are the
  bootstrap's; the `main` ruleset requires exactly ci.yml's job names;
- the reusable etl-image.yml assumes the push role its caller passes, in no environment, and that role trusts
  only jobs running this very workflow.

Each check is shown planted disagreements (the ones this contract replaced among them) so that it can fail.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import re
from dataclasses import dataclass, field

import pytest

from tests.bootstrap.bootstrap_support import STACKS, plan
from tests.support.workflows import (
    DEPLOY_ENVIRONMENTS,
    READ_ONLY_ENVIRONMENTS,
    REVIEWED_ENVIRONMENTS,
    Job,
    Workflow,
    all_jobs,
    environment_of,
    jobs_of,
    load_all,
    steps_using,
)

REPOSITORY = "kingtavo/infrastructure"
HOST = "token.actions.githubusercontent.com"
SUBJECT_PREFIX = f"repo:{REPOSITORY}:environment:"
AWS_ACTION = "aws-actions/configure-aws-credentials"
ENVIRONMENT = "github:index/repositoryEnvironment:RepositoryEnvironment"
DEPLOYMENT_POLICY = "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy"
ENVIRONMENT_VARIABLE = "github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable"
REPOSITORY_VARIABLE = "github:index/actionsVariable:ActionsVariable"
RULESET = "github:index/repositoryRuleset:RepositoryRuleset"
ROLE = "aws:iam/role:Role"
VARIABLE = re.compile(r"^\$\{\{ vars\.(\w+) \}\}$")
MATRIX = re.compile(r"\$\{\{ matrix\.(\w+) \}\}")
# The refs a run can have, one of each kind, to ask every environment which it admits.
MAIN, PULL_REQUEST = "refs/heads/main", "refs/pull/7/merge"
FEATURES = ("refs/heads/feature", "refs/heads/feature/x")


@dataclass
class Bootstrap:
    """What both bootstrap stacks declare that the workflows depend on."""

    environments: dict[str, dict] = field(default_factory=dict)  # name -> RepositoryEnvironment inputs
    refs: dict[str, set[tuple[str, str]]] = field(default_factory=dict)  # name -> {("branch"|"tag", pattern)}
    variables: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (environment, name) -> values
    repository_variables: dict[str, list[str]] = field(default_factory=dict)
    roles: dict[str, tuple[str, dict]] = field(default_factory=dict)  # ARN -> (role name, trust policy)
    required_checks: list[str] = field(default_factory=list)


def bootstrap_side() -> Bootstrap:
    side = Bootstrap()
    for stack in STACKS:
        result = plan(stack)
        for r in result.by_type(ENVIRONMENT):
            side.environments[r.inputs["environment"]] = r.inputs
            side.refs.setdefault(r.inputs["environment"], set())
        for r in result.by_type(DEPLOYMENT_POLICY):
            kind = "branch" if "branchPattern" in r.inputs else "tag"
            side.refs.setdefault(r.inputs["environment"], set()).add((kind, r.inputs[f"{kind}Pattern"]))
        for r in result.by_type(ENVIRONMENT_VARIABLE):
            side.variables.setdefault((r.inputs["environment"], r.inputs["variableName"]), []).append(r.inputs["value"])
        for r in result.by_type(REPOSITORY_VARIABLE):
            side.repository_variables.setdefault(r.inputs["variableName"], []).append(r.inputs["value"])
        for r in result.by_type(ROLE):
            side.roles[r.outputs["arn"]] = (r.inputs["name"], json.loads(r.inputs["assumeRolePolicy"]))
        for r in result.by_type(RULESET):
            if r.inputs["target"] == "branch":
                side.required_checks += [c["context"] for c in r.inputs["rules"]["requiredStatusChecks"]
                                         ["requiredChecks"]]
    return side


def trusted_subjects(document: dict) -> list[str]:
    """The `sub` patterns of a GitHub OIDC trust policy that also pins the STS audience (else none)."""
    subjects = []
    for statement in document["Statement"]:
        condition = statement.get("Condition", {})
        if (statement.get("Effect") != "Allow" or statement.get("Action") != "sts:AssumeRoleWithWebIdentity"
                or condition.get("StringEquals", {}).get(f"{HOST}:aud") != "sts.amazonaws.com"):
            continue
        for operator in ("StringEquals", "StringLike"):
            found = condition.get(operator, {}).get(f"{HOST}:sub", [])
            subjects += [found] if isinstance(found, str) else found
    return subjects


def admits(document: dict, subject: str) -> bool:
    return any(fnmatch.fnmatchcase(subject, pattern) for pattern in trusted_subjects(document))


def resolve(side: Bootstrap, environment: str, variable: str) -> list[str]:
    """What `vars.<variable>` is in a job of this environment: GitHub takes the environment's, then the repository's."""
    return side.variables.get((environment, variable)) or side.repository_variables.get(variable, [])


def job_environments(job: Job) -> list[str]:
    """The environments a job runs in, its matrix expanded (`drift-${{ matrix.stack }}` -> drift-staging, ...)."""
    name = environment_of(job)
    if name is None:
        return []
    keys = MATRIX.findall(name)
    if not keys:
        return [name]
    (key,) = keys
    values = job["strategy"]["matrix"][key]
    if isinstance(values, str):  # an expression choosing among JSON lists, e.g. fromJSON(... '["staging"]' ...)
        values = sorted({v for literal in re.findall(r"'(\[[^']*\])'", values) for v in json.loads(literal)})
    assert values, f"cannot expand {name}"
    return [MATRIX.sub(value, name) for value in values]


def run_refs(workflow: Workflow) -> set[str]:
    """The refs a workflow's runs have: pull requests their merge ref; pushes their branches and a tag matching each
    tag pattern; schedules the default branch; manual runs main (another ref is the environment's to refuse)."""
    on = workflow["on"]
    on = {on: None} if isinstance(on, str) else on
    refs = set()
    for trigger, spec in on.items():
        if trigger == "pull_request":
            refs.add(PULL_REQUEST)
        elif trigger == "push":
            refs |= {f"refs/heads/{branch}" for branch in (spec or {}).get("branches", [])}
            refs |= {"refs/tags/" + pattern.replace("*", "1") for pattern in (spec or {}).get("tags", [])}
        elif trigger in ("schedule", "workflow_dispatch"):
            refs.add(MAIN)
    return refs


def ref_admitted(rules: set[tuple[str, str]], ref: str) -> bool:
    """GitHub's deployment rule match: branch rules on the branch name (or the full ref, for `refs/pull/...`), tag
    rules on the tag name; fnmatch with `*` not crossing `/` (Python's fnmatch lets it, hence the regex)."""
    def match(pattern: str, name: str) -> bool:
        return re.fullmatch("[^/]*".join(map(re.escape, pattern.split("*"))), name) is not None

    for kind, pattern in rules:
        if kind == "branch" and match(pattern, ref.removeprefix("refs/heads/")):
            return True
        if kind == "tag" and ref.startswith("refs/tags/") and match(pattern, ref.removeprefix("refs/tags/")):
            return True
    return False


def is_reusable(workflow: Workflow) -> bool:
    on = workflow["on"]
    return (set(on) if not isinstance(on, str) else {on}) == {"workflow_call"}


def contract_problems(workflows: dict[str, Workflow], side: Bootstrap) -> list[str]:
    """Every disagreement between the workflows and the bootstrap (empty when the contract holds)."""
    problems: list[str] = []
    held: dict[str, set[str]] = {}  # role ARN -> environments whose jobs assume it
    used: dict[str, set[str]] = {}  # environment -> refs its runs have
    for name, job_id, job in all_jobs(workflows):
        where = f"{name} {job_id}"
        environments = job_environments(job)
        for environment in environments:
            used.setdefault(environment, set()).update(run_refs(workflows[name]))
        for step in steps_using(job, AWS_ACTION):
            if is_reusable(workflows[name]):
                continue  # its caller passes the role (test_the_reusable_image_workflow_assumes_the_push_role)
            if not environments:
                problems.append(f"{where}: assumes an AWS role outside any GitHub environment")
            for key in ("role-to-assume", "aws-region"):
                variable = VARIABLE.match(step["with"].get(key, ""))
                if variable is None:
                    problems.append(f"{where}: {key} must be one variable of the job's environment, got "
                                    f"{step['with'].get(key)!r}")
                    continue
                for environment in environments:
                    values = resolve(side, environment, variable.group(1))
                    if len(values) != 1:
                        problems.append(f"{where}: vars.{variable.group(1)} in {environment} is set "
                                        f"{len(values)} times by the bootstrap, expected once")
                    elif key == "role-to-assume":
                        arn, subject = values[0], SUBJECT_PREFIX + environment
                        if arn not in side.roles:
                            problems.append(f"{where}: {environment}'s {variable.group(1)} {arn} is no bootstrap role")
                        elif not admits(side.roles[arn][1], subject):
                            problems.append(f"{where}: {side.roles[arn][0]} does not trust {subject}")
                        held.setdefault(arn, set()).add(environment)
    for arn, (role_name, trust) in sorted(side.roles.items()):
        ours = [s for s in trusted_subjects(trust) if s.startswith(f"repo:{REPOSITORY}:")]
        outside = [s for s in ours if not s.startswith(SUBJECT_PREFIX)]
        problems += [f"{role_name}: trusts {s}, a subject outside any GitHub environment" for s in outside]
        trusted = {s.removeprefix(SUBJECT_PREFIX) for s in ours if s.startswith(SUBJECT_PREFIX)}
        problems += [f"{role_name}: trusts environment {e}, but no workflow job there assumes it"
                     for e in sorted(trusted - held.get(arn, set()))]
    problems += [f"environment {e}: a workflow runs in it, the bootstrap does not declare it"
                 for e in sorted(set(used) - set(side.environments))]
    problems += [f"environment {e}: declared by the bootstrap, no workflow runs in it"
                 for e in sorted(set(side.environments) - set(used))]
    for environment, refs in sorted(used.items()):
        if environment not in side.environments:
            continue
        admitted = {ref for ref in (MAIN, *FEATURES, PULL_REQUEST, *refs) if ref_admitted(side.refs[environment], ref)}
        if admitted != refs:
            problems.append(f"environment {environment}: admits {sorted(admitted)}, its workflows run on "
                            f"{sorted(refs)}")
    checks = sorted(job.get("name", job_id) for job_id, job in jobs_of(workflows["ci.yml"]).items())
    if sorted(side.required_checks) != checks:
        problems.append(f"main ruleset requires {sorted(side.required_checks)}, ci.yml's jobs are {checks}")
    return problems


@pytest.fixture(scope="module")
def workflows() -> dict[str, Workflow]:
    return load_all()


@pytest.fixture(scope="module")
def side() -> Bootstrap:
    return bootstrap_side()


def test_the_workflows_and_the_bootstrap_agree(workflows, side):
    assert contract_problems(workflows, side) == []


def test_every_aws_job_and_the_role_it_resolves_to(workflows, side):
    """The resolution spelled out, so a reader sees which role each job gets."""
    resolved = {}
    for name, job_id, job in all_jobs(workflows):
        if steps_using(job, AWS_ACTION) and not is_reusable(workflows[name]):
            for environment in job_environments(job):
                (arn,) = resolve(side, environment, "AWS_ROLE_ARN")
                resolved[(name, job_id, environment)] = side.roles[arn][0]
    assert resolved == {
        ("ci.yml", "preview-staging", "preview-staging"): "kingtavo-ci-staging-preview",
        ("ci.yml", "preview-production", "preview-production"): "kingtavo-ci-production-preview",
        ("drift.yml", "drift", "drift-staging"): "kingtavo-ci-staging-preview",
        ("drift.yml", "drift", "drift-production"): "kingtavo-ci-production-preview",
        ("deploy-staging.yml", "deploy", "staging"): "kingtavo-ci-staging-deploy",
        ("deploy-production.yml", "deploy", "production"): "kingtavo-ci-production-deploy",
        ("restore-drill.yml", "drill", "restore-drill-staging"): "kingtavo-ci-staging-restore-drill",
    }
    assert side.repository_variables == {}  # a role variable any job could read, in or out of an environment


def test_the_other_workflow_tests_judge_by_the_bootstraps_environments(side):
    reviewed = {name for name, inputs in side.environments.items() if inputs.get("reviewers")}
    assert reviewed == REVIEWED_ENVIRONMENTS
    holders = {env: side.roles[values[0]][0] for (env, variable), values in side.variables.items()
               if variable == "AWS_ROLE_ARN"}
    assert {env for env, role in holders.items() if role.endswith("-deploy")} == DEPLOY_ENVIRONMENTS
    assert {env for env, role in holders.items() if role.endswith("-preview")} == {
        env for env in side.environments if env.startswith(READ_ONLY_ENVIRONMENTS)}


def test_the_reusable_image_workflow_assumes_the_push_role_its_caller_passes(workflows, side):
    (job,) = jobs_of(workflows["etl-image.yml"]).values()
    (step,) = steps_using(job, AWS_ACTION)
    assert is_reusable(workflows["etl-image.yml"]) and environment_of(job) is None
    assert step["with"]["role-to-assume"] == "${{ inputs.push-role-arn }}"
    (trust,) = [trust for name, trust in side.roles.values() if name == "kingtavo-ci-etl-image-push"]
    caller_subject = ("repo:kingtavo/etl:ref:refs/heads/main:job_workflow_ref:"
                      f"{REPOSITORY}/.github/workflows/etl-image.yml@0123456789abcdef0123456789abcdef01234567")
    assert admits(trust, caller_subject)
    assert not admits(trust, caller_subject.replace("etl-image.yml", "other.yml"))


# --- planted disagreements: the check can fail, and names what broke ------------------------------------------

def _set_role(workflows, workflow, job_id, expression):
    (step,) = steps_using(jobs_of(workflows[workflow])[job_id], AWS_ACTION)
    step["with"]["role-to-assume"] = expression


def _untrust(side, role_name, environment):
    for name, trust in side.roles.values():
        if name == role_name:
            condition = trust["Statement"][0]["Condition"]["StringEquals"]
            condition[f"{HOST}:sub"] = [s for s in condition[f"{HOST}:sub"] if s != SUBJECT_PREFIX + environment]


def _trust_pull_requests(side, role_name):
    for name, trust in side.roles.values():
        if name == role_name:
            trust["Statement"][0]["Condition"]["StringEquals"][f"{HOST}:sub"].append(f"repo:{REPOSITORY}:pull_request")


PLANTED = {
    # the disagreement this contract replaced: the workflow reads a repository variable nobody sets
    "a role variable the bootstrap does not set": (
        lambda w, s: _set_role(w, "ci.yml", "preview-staging", "${{ vars.AWS_PREVIEW_ROLE_ARN_STAGING }}"),
        "ci.yml preview-staging: vars.AWS_PREVIEW_ROLE_ARN_STAGING in preview-staging is set 0 times"),
    "a role taken from an expression": (
        lambda w, s: _set_role(w, "drift.yml", "drift", "${{ matrix.stack == 'production' && vars.A || vars.B }}"),
        "drift.yml drift: role-to-assume must be one variable of the job's environment"),
    "a job that left its environment": (
        lambda w, s: jobs_of(w["deploy-staging.yml"])["deploy"].pop("environment"),
        "deploy-staging.yml deploy: assumes an AWS role outside any GitHub environment"),
    "a renamed environment": (
        lambda w, s: jobs_of(w["drift.yml"])["drift"].update(environment={"name": "drift-check-${{ matrix.stack }}"}),
        "environment drift-check-production: a workflow runs in it, the bootstrap does not declare it"),
    "a role that no longer trusts the drift environment": (
        lambda w, s: _untrust(s, "kingtavo-ci-staging-preview", "drift-staging"),
        "drift.yml drift: kingtavo-ci-staging-preview does not trust repo:kingtavo/infrastructure:environment:"
        "drift-staging"),
    # the other half of it: the staging preview role trusted any pull request's job, in no environment
    "a role that trusts pull requests outside an environment": (
        lambda w, s: _trust_pull_requests(s, "kingtavo-ci-staging-preview"),
        "kingtavo-ci-staging-preview: trusts repo:kingtavo/infrastructure:pull_request, a subject outside"),
    "an environment's variable pointing at another role": (
        lambda w, s: s.variables.update({("preview-staging", "AWS_ROLE_ARN"): s.variables["staging", "AWS_ROLE_ARN"]}),
        "ci.yml preview-staging: kingtavo-ci-staging-deploy does not trust"),
    "an environment the bootstrap forgot": (
        lambda w, s: s.environments.pop("drift-production"),
        "environment drift-production: a workflow runs in it, the bootstrap does not declare it"),
    "a production environment without its release tags": (
        lambda w, s: s.refs["production"].discard(("tag", "v*.*.*")),
        "environment production: admits ['refs/heads/main'], its workflows run on ['refs/heads/main', "
        "'refs/tags/v1.1.1']"),
    "a preview environment open to branches": (
        lambda w, s: s.refs["preview-staging"].add(("branch", "*")),
        "environment preview-staging: admits ['refs/heads/feature', 'refs/heads/main', 'refs/pull/7/merge']"),
    "a required check ci.yml does not report": (
        lambda w, s: s.required_checks.__setitem__(3, "Preview (staging)"),
        "main ruleset requires"),
}


@pytest.mark.parametrize("planted", sorted(PLANTED))
def test_the_contract_check_catches_a_planted_disagreement(workflows, side, planted):
    plant, expected = PLANTED[planted]
    broken_workflows, broken_side = copy.deepcopy(workflows), copy.deepcopy(side)
    plant(broken_workflows, broken_side)
    problems = contract_problems(broken_workflows, broken_side)
    assert any(problem.startswith(expected) for problem in problems), problems


def test_the_ref_matching_follows_githubs_rules():
    rules = {("branch", "main"), ("branch", "refs/pull/*/merge"), ("tag", "v*.*.*")}
    assert ref_admitted(rules, "refs/heads/main") and ref_admitted(rules, "refs/pull/12/merge")
    assert ref_admitted(rules, "refs/tags/v1.20.3")
    assert not ref_admitted(rules, "refs/heads/mainline") and not ref_admitted(rules, "refs/heads/feature/main")
    assert not ref_admitted(rules, "refs/pull/12/head") and not ref_admitted(rules, "refs/pull/1/2/merge")
    assert not ref_admitted(rules, "refs/heads/v1.2.3") and not ref_admitted({("branch", "*")}, "refs/heads/a/b")
